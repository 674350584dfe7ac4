"""axe-core, the accessibility checker, run in the page a Selenium browser shows.

The script comes from `node_modules/axe-core` (`make test` runs npm ci). It
is injected with WebDriver's execute_script, which runs through the DevTools
protocol and so is not bound by the page's Content-Security-Policy
(`default-src 'none'`): the app's CSP stays as strict as it is.
"""

from collections.abc import Sequence
from functools import cache
from typing import Any

import pytest
from selenium import webdriver

from tests.node_tools import node_module

WCAG_21_AA = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
"""The rules of WCAG 2.1 levels A and AA, which Swedish public sector sites must meet."""

TARGETS_SHOWN = 3
"""How many elements of each violation a failure message names."""

RUN = """
const [tags, done] = arguments;
axe.run(document, {runOnly: {type: "tag", values: tags}})
  .then((results) => done({violations: results.violations}))
  .catch((error) => done({error: String(error)}));
"""


@cache
def axe_source() -> str:
    """The text of axe.min.js; fails the test when node_modules lacks it."""
    return node_module("axe-core/axe.min.js").read_text(encoding="utf-8")


def axe_violations(
    driver: webdriver.Chrome, tags: Sequence[str] = WCAG_21_AA
) -> list[dict[str, Any]]:
    """What axe finds wrong with the page now shown, by the rules tagged `tags`."""
    if not driver.execute_script("return typeof window.axe === 'object'"):
        driver.execute_script(axe_source())
    driver.set_script_timeout(60)  # axe checks every element; two busy CPUs are slow
    result = driver.execute_async_script(RUN, list(tags))
    if "error" in result:
        pytest.fail(f"axe.run failed on {driver.current_url}: {result['error']}")
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def describe(violation: dict[str, Any]) -> str:
    """One violation on a line: rule, impact, what it asks, and where."""
    nodes = violation["nodes"]
    where = ", ".join(" ".join(map(str, node["target"])) for node in nodes[:TARGETS_SHOWN])
    more = f" and {len(nodes) - TARGETS_SHOWN} more" if len(nodes) > TARGETS_SHOWN else ""
    return f"- {violation['id']} ({violation['impact']}): {violation['help']} at {where}{more}"


def assert_accessible(driver: webdriver.Chrome, page_name: str) -> None:
    """Fail, naming each violation, unless axe finds nothing wrong with the page now shown."""
    violations = axe_violations(driver)
    if violations:
        lines = "\n".join(describe(v) for v in violations)
        pytest.fail(f"axe: {page_name} ({driver.current_url}) has violations:\n{lines}")
