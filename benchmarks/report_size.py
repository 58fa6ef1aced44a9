"""The HTML report's size budget: a 1,000-image test set with five methods that make maps.

Runs five methods for one epoch on the embedded synthetic dataset (1,000 test images at
128×128, so that thumbnails are at their largest, 96×96), writes the report, and measures the
bytes of ``index.html`` and the explorer's data, the report's build time, and in headless
Chromium (where installed) the time until the page and its explorer are shown and until a
filter is applied. The numbers depend on the images (JPEG) and maps (PNG); real scans are
measured too where their results are committed (the report's own folder sizes).

    python benchmarks/report_size.py --out benchmarks/results-report
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

METHODS = "ae,vae,ssim_ae,ganomaly,salad"


def run(*args) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "benchbox", *args], check=True, capture_output=True, text=True)
    return time.perf_counter() - start


def browser_times(page: Path) -> dict | None:
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        return None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        start = time.perf_counter()
        driver.get(page.as_uri())  # returns after the load event: every script run
        WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".explorer .card img"))
        shown = time.perf_counter() - start
        select = Select(driver.find_elements(By.CSS_SELECTOR, ".explorer select")[2])
        start = time.perf_counter()
        select.select_by_value("fp")
        driver.find_element(By.CSS_SELECTOR, ".explorer .count")
        filtered = time.perf_counter() - start
        heap = driver.execute_script("return performance.memory ? performance.memory.usedJSHeapSize : null")
        return {"page_and_explorer_shown_s": shown, "filter_s": filtered, "js_heap_mb": heap and heap / 1e6}
    finally:
        driver.quit()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results-report"))
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--image-size", type=int, default=128)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        results, report = Path(tmp) / "results", Path(tmp) / "report"
        run_s = run(
            "run", "--methods", METHODS, "--seeds", "0", "--epochs", "1", "--image-size", str(args.image_size),
            "--param", "synthetic.n_train=128", "--param", f"synthetic.n_test={args.n_test}",
            "--results-dir", str(results),
        )  # fmt: skip
        report_s = run("report", "--results-dir", str(results), "--out", str(report))
        explorer = sum(p.stat().st_size for p in report.glob("explorer-*.js"))
        stored = sum(p.stat().st_size for p in results.rglob("*.npz"))
        measured = {
            "n_test": args.n_test,
            "methods": METHODS.split(","),
            "image_size": args.image_size,
            "explorer_js_mb": explorer / 1e6,
            "index_html_mb": (report / "index.html").stat().st_size / 1e6,
            "report_folder_mb": sum(p.stat().st_size for p in report.iterdir()) / 1e6,
            "stored_npz_mb": stored / 1e6,
            "grid_s": run_s,
            "report_s": report_s,
            "browser": browser_times(report / "index.html"),
            "machine": f"{platform.machine()}, {platform.processor() or platform.node()}",
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report_size.json").write_text(json.dumps(measured, indent=1) + "\n")
    print(json.dumps(measured, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
