"""Pictures: what a card shows must be readable."""

from zoo import viz


def test_a_long_title_is_wrapped_inside_the_picture(tmp_path, monkeypatch):
    """fid_curve.png's title names the sampler in words; it was cut off at both sides."""
    drawn = []
    save = viz._save_figure

    def keep(fig, ax, path, title):
        drawn.append((fig, ax))
        return save(fig, ax, path, title)

    monkeypatch.setattr(viz, "_save_figure", keep)
    curve = {"num": 1000, "sampler": "DDIM-50 with the preset's eta, seed 0", "fid": {"5": 6.7, "20": 2.9},
             "reference": {"preset": "vae_fashion", "fid": 17.5}}
    path = viz.save_fid_curve(curve, tmp_path / "fid_curve.png", "ddpm_fashion")
    assert path.stat().st_size > 0
    (fig, ax), = drawn
    title = ax.title.get_window_extent()
    assert "seed 0)" in ax.get_title() and "\n" in ax.get_title()
    assert 0 <= title.x0 and title.x1 <= fig.bbox.x1 and title.y1 <= fig.bbox.y1, (title, fig.bbox)
