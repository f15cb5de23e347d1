"""The HTML report in a real headless browser (Debian's chromium): it opens, every plot loads, and a screenshot
shows a rendered page. `.ci/run` installs chromium; elsewhere the test is skipped when no browser is found."""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import matplotlib.image as mpimg
import pytest

from compare.present import report
from compare.collect import assess_all

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def browser() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    if os.environ.get("CI"):
        pytest.fail("no chromium on the CI machine: .ci/run installs Debian's chromium for this test")
    pytest.skip("no chromium here (apt-get install chromium; .ci/run does it)")


def chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    return subprocess.run([browser(), *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=120)


def test_the_report_opens_in_chromium_with_every_plot(run_dirs, tmp_path):
    page = tmp_path / "report.html"
    report.write(assess_all([run_dirs]), page)
    images = page.read_text().count("<img ")
    assert images >= 7  # family plot, and per run: bound plot, slack bars, formula
    dom = chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", page.as_uri())
    body = re.search(r"<body[^>]*>", dom.stdout)
    assert body, dom.stderr[-2000:]
    loaded = re.search(r'data-images-loaded="(\d+)"', body.group(0))
    total = re.search(r'data-images-total="(\d+)"', body.group(0))
    assert loaded and total, body.group(0)
    assert int(total.group(1)) == images and int(loaded.group(1)) == images
    for heading in ("Tightness", "Rates", "Run inside", "Run practical", "Where the slack is"):
        assert heading in dom.stdout
    shot = tmp_path / "shot.png"
    chromium(tmp_path, "--window-size=1200,1600", f"--screenshot={shot}", page.as_uri())
    pixels = mpimg.imread(shot)
    assert pixels.shape[:2] == (1600, 1200) and pixels[..., :3].std() > 0.05  # a page, not a blank frame
