"""The web chat's turn time in Chromium, with the accessible profile off and on: from the
press of Enter to the bot's answer (its buttons included) in the page, measured inside the
page. Each walk is a new person answering the library survey; walks with the profile off
and on take turns, so that both meet the same minutes of a noisy host.

    python bench/web_turns.py --rounds 5

With the profile on, each answer is two turns (the answer, read back, then "yes"): the
figures are per turn and per answer kept.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ANSWERS = ["library", "yes", "1", "1, 3", "4", "Longer hours", "2"]  # consent, then questions
THINK = 0.5  # seconds between a reply and the next answer: under the session's rate limit

# Types `text` as a person would and resolves with the milliseconds until the bot's next
# message is in the log (its buttons go in with it, in the same task).
TIMED_TURN = """
async text => {
  const lines = document.querySelector("#log ol");
  const before = lines.querySelectorAll("li.bot").length;
  const began = performance.now();
  const answered = new Promise((resolve, reject) => {
    const watcher = new MutationObserver(() => {
      if (lines.querySelectorAll("li.bot").length > before) {
        watcher.disconnect();
        resolve(performance.now() - began);
      }
    });
    watcher.observe(lines, { childList: true });
    setTimeout(() => reject(new Error("no answer in 10 s")), 10000);
  });
  document.getElementById("message").value = text;
  document.getElementById("composer").requestSubmit();
  return await answered;
}
"""


async def walk(browser, address: str, *, simpler: bool) -> list[float]:
    """One new person through the survey; the time of each of their turns, in ms."""
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(address)
    await page.wait_for_selector("#log li.bot")
    if simpler:
        await page.get_by_label("Simpler chat").check()
        await page.wait_for_function(
            "() => document.querySelector('#log li.bot:last-child')?.textContent"
            ".includes('simpler chat is on')"
        )
    times = []
    for number, answer in enumerate(ANSWERS):
        await asyncio.sleep(THINK)
        times.append(await page.evaluate(TIMED_TURN, answer))
        if simpler and number > 1:  # the keyword and consent are not read back; answers are
            await asyncio.sleep(THINK)
            times.append(await page.evaluate(TIMED_TURN, "yes"))
    text = await page.locator("#log li.bot").last.text_content()
    await context.close()
    if "Thank you" not in (text or ""):
        raise SystemExit(f"the walk did not reach the end: {text!r}")
    return times


def figures(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):5.1f} ms, p95 {p95:5.1f} ms ({len(times)} turns)"


async def main(rounds: int) -> None:
    sys.path.insert(0, str(ROOT))
    from playwright.async_api import async_playwright

    from adapters.web import WebAdapter
    from bot.app import running

    turns: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as folder:
        async with (
            running(
                database=Path(folder) / "civicbot.db",
                survey_folder=ROOT / "surveys",
                adapters=[lambda handler: WebAdapter(handler, port=0)],
                environ={"CIVICBOT_PSEUDONYM_KEY": "bench"},
                backup_before_migrating=False,
            ) as runtime,
            async_playwright() as playwright,
        ):
            address = f"http://127.0.0.1:{runtime.adapters[0].port}/"
            browser = await playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            for _ in range(rounds):
                for simpler in (False, True):
                    turns[simpler] += await walk(browser, address, simpler=simpler)
            await browser.close()
    answers_kept = (len(ANSWERS) - 2) * rounds
    for simpler, name in ((False, "profile off"), (True, "profile on ")):
        waiting = sum(turns[simpler]) / answers_kept  # the keyword's and consent's turns too
        print(f"{name}: {figures(turns[simpler])}; {waiting:.1f} ms waiting per answer kept")
    off, on = statistics.median(turns[False]), statistics.median(turns[True])
    print(f"median turn, on / off: {on / off:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="walks with each profile")
    asyncio.run(main(parser.parse_args().rounds))
