"""`python -m fastloss plot`: the curves are the losses' own numbers, every
loss is drawn or left out with a reason, figures are written, matplotlib is
optional, and the bench command's --png chart still works."""

import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from helpers import LOSSES

import fastloss as fl
from fastloss import plot

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _curve(name, **params):
    curves, _ = plot.views([name])
    for c in curves:
        if c.params == params or not params:
            return plot.curve_values(c)
    raise AssertionError(f"no curve of {name} with {params}")


def _softplus(z):
    return np.logaddexp(0, z)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


# -- the numbers ---------------------------------------------------------------------------

@pytest.mark.parametrize("name,loss,slope", [
    ("mean_squared_error", lambda d: d * d, lambda d: 2 * d),
    ("mean_absolute_error", np.abs, np.sign),
    ("huber", lambda d: np.where(np.abs(d) <= 1, d * d / 2, np.abs(d) - 0.5),
     lambda d: np.clip(d, -1, 1)),
    ("log_cosh", lambda d: np.log(np.cosh(d)), np.tanh),
])
def test_regression_curves_are_closed_forms_of_the_residual(name, loss, slope):
    x, v, s = _curve(name)
    keep = np.abs(x) > 1e-9                         # the kink of mae at 0
    np.testing.assert_allclose(v, loss(x), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(s[keep], slope(x)[keep], rtol=1e-12, atol=1e-14)


def test_quantile_curves_show_their_asymmetry():
    x, v, s = _curve("quantile", quantile=0.9)
    np.testing.assert_allclose(v, np.where(x < 0, -0.9 * x, 0.1 * x), atol=1e-14)
    assert set(np.round(s[np.abs(x) > 1e-9], 12)) == {-0.9, 0.1}


def test_margin_curves_are_closed_forms_of_the_margin():
    x, v, s = _curve("binary_crossentropy", from_logits=True)
    np.testing.assert_allclose(v, _softplus(-x), rtol=1e-12)
    np.testing.assert_allclose(s, -_sigmoid(-x), rtol=1e-12, atol=1e-15)
    x, v, s = _curve("hinge")
    np.testing.assert_allclose(v, np.maximum(0, 1 - x), atol=1e-14)
    x, v, _ = _curve("binary_focal_crossentropy", from_logits=True, gamma=2.0)
    p = _sigmoid(x)
    np.testing.assert_allclose(v, (1 - p) ** 2 * -np.log(p), rtol=1e-10)


def test_categorical_curve_is_the_softmax_cross_entropy_of_the_true_logit():
    x, v, s = _curve("categorical_crossentropy", from_logits=True)
    np.testing.assert_allclose(v, np.log(np.exp(x) + 2) - x, rtol=1e-12)
    np.testing.assert_allclose(s, np.exp(x) / (np.exp(x) + 2) - 1, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("curve", plot.views()[0], ids=lambda c: c.label)
def test_every_slope_is_the_derivative_of_its_curve(curve):
    """The slope is the loss's gradient projected on the direction the inputs
    move in: it must match the finite-difference slope of the loss curve
    (away from kinks)."""
    x, v, s = plot.curve_values(curve)
    assert np.all(np.isfinite(v)) and np.all(np.isfinite(s))
    fd = np.gradient(v, x)
    scale = max(1.0, float(np.max(np.abs(s))))
    agree = np.abs(fd - s) <= 0.02 * scale
    assert agree.mean() > 0.97, curve.label


def test_every_loss_is_drawn_or_left_out_with_a_reason():
    curves, left = plot.views()
    drawn = {c.name for c in curves}
    assert drawn.isdisjoint(left)
    assert drawn | set(left) == set(LOSSES)
    assert all(len(why) > 20 for why in left.values())
    # the comparisons the figures are for
    assert {"mean_squared_error", "mean_absolute_error", "huber", "log_cosh"} <= drawn
    assert {"binary_crossentropy", "hinge", "binary_focal_crossentropy"} <= drawn


def test_views_take_names_aliases_and_loss_objects():
    curves, left = plot.views(["mse", fl.huber, "scce"])
    assert [c.name for c in curves] == ["mean_squared_error", "huber"]
    assert list(left) == ["sparse_categorical_crossentropy"]
    with pytest.raises(ValueError, match="unknown loss"):
        plot.views(["no_such_loss"])


# -- the figures ---------------------------------------------------------------------------

def test_draw_writes_png_and_svg_per_family(tmp_path):
    pytest.importorskip("matplotlib")
    paths, _ = plot.draw(["mse", "mae", "bce"], tmp_path)
    names = sorted(p.rsplit("/", 1)[-1] for p in paths)
    assert names == ["losses_binary.png", "losses_binary.svg",
                     "losses_regression.png", "losses_regression.svg"]
    png = (tmp_path / "losses_regression.png").read_bytes()
    assert png.startswith(PNG_MAGIC) and len(png) > 10_000
    root = ET.parse(tmp_path / "losses_regression.svg").getroot()
    assert root.tag.endswith("svg")
    text = (tmp_path / "losses_regression.svg").read_text()
    assert "mean_absolute_error" in text or "mean_absolute_error" in png.decode("latin-1")


def test_svg_is_reproducible(tmp_path):
    pytest.importorskip("matplotlib")
    plot.draw(["huber"], tmp_path / "a", formats=("svg",))
    plot.draw(["huber"], tmp_path / "b", formats=("svg",))
    a = (tmp_path / "a" / "losses_regression.svg").read_bytes()
    assert a == (tmp_path / "b" / "losses_regression.svg").read_bytes()


def _cli(*args, cwd=None, code=None):
    cmd = [sys.executable, "-P"] + (["-c", code] if code else ["-m", "fastloss"]) + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=300)


def test_plot_command(tmp_path):
    pytest.importorskip("matplotlib")
    r = _cli("plot", "huber", "log_cosh", "--out", str(tmp_path), "--format", "png")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "losses_regression.png").read_bytes().startswith(PNG_MAGIC)
    assert "wrote" in r.stdout
    r = _cli("plot", "--list")
    assert r.returncode == 0 and "huber" in r.stdout and "left out" in r.stdout
    r = _cli("plot", "no_such_loss", "--out", str(tmp_path))
    assert r.returncode == 2 and "unknown loss" in r.stderr


def test_plot_without_matplotlib_says_how_to_get_it(tmp_path):
    code = textwrap.dedent("""
        import sys
        sys.modules["matplotlib"] = None
        from fastloss.__main__ import main
        sys.exit(main(sys.argv[1:]))
    """)
    r = _cli("plot", "--out", str(tmp_path), code=code)
    assert r.returncode == 2
    assert 'pip install "fastloss[plot]"' in r.stderr
    # listing needs no matplotlib
    assert _cli("plot", "--list", code=code).returncode == 0


def test_bench_png_chart_still_works(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "bench.png"
    r = _cli("bench", "--sizes", "small", "--loss", "mse", "--dtypes", "float64",
             "--repeat", "1", "--quiet", "--png", str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_bytes().startswith(PNG_MAGIC)


def test_plain_import_stays_light():
    code = ("import sys, fastloss, fastloss.plot; "
            "print(sorted(m for m in ('dask', 'matplotlib', 'distributed') if m in sys.modules))")
    assert _cli(code=code).stdout.strip() == "[]"


def test_an_unregistered_loss_object_is_drawn_from_its_domain():
    from fastloss._core.loops import ElementwiseLoss

    mine = ElementwiseLoss("my_huber", kernel=fl.huber._kernel, params=fl.huber.params)
    assert "my_huber" not in fl.available()
    (curve,), left = plot.views([mine])
    assert curve.view.family == "regression" and not left
    x, v, s = plot.curve_values(curve)
    np.testing.assert_array_equal(v, fl.huber(np.zeros_like(x), x, reduction="none"))
