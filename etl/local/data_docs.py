"""great-expectations' Data Docs for one execution: its validation page and its suite's page.

GX renders both pages (``ValidationResultsPageRenderer``, ``ExpectationSuitePageRenderer``)
for a Data Docs *site*, whose links climb to the site's ``index.html``, its
``expectations/<suite>.html`` and its ``static/images``. Here the pages sit beside the run
report, with no site around them, so those links are pointed at what is there: "Home" at
the run report, the suite at the suite page written beside the validation, and the missing
favicon dropped. The suite page is built from the expectations as the run validated them
(each result carries its configuration), so it shows that run's suite even after the
suite file has changed.

GX's pages take their styles and icons from CDNs. Offline they are plain HTML, but an
expectation's status is an icon only (Font Awesome), which would leave the Status column
blank; a few inline rules draw the three status icons GX uses as characters, online or not.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

_HOME = re.compile(r'href="(?:\.\./)+index\.html"')
_SUITE = re.compile(r'href="(?:\.\./)+expectations/[^"]*\.html"')
_FAVICON = re.compile(r'<link rel="shortcut icon" href="[^"]*favicon\.ico"[^>]*>\n?')
# The status icons of GX's renderers (``fas fa-…``) as characters, in Bootstrap's colours.
STATUS_STYLE = """<style>
i.fa-check-circle::before { content: "\\2714"; }
i.fa-times::before { content: "\\2716"; }
i.fa-exclamation-triangle::before { content: "\\26A0"; }
i.text-success { color: #28a745; }
i.text-danger { color: #dc3545; }
i.text-warning { color: #d39e00; }
</style>
"""


def write_data_docs(
    validation: dict, name: str, started: datetime, folder: Path, home: str
) -> Path:
    """Write the validation page ``<name>.html`` and its suite's page ``<name>.suite.html``
    into ``folder``; ``home`` is the run report's link from ``folder`` (URL-quoted).
    Returns the validation page's path."""
    from etl.stages.suite import import_gx

    import_gx()  # the first import in this process, if no suite was validated in it
    from great_expectations.render.renderer import (
        ExpectationSuitePageRenderer,
        ValidationResultsPageRenderer,
    )

    result = _validation_result(validation, name, started)
    suite_page = f"{name}.suite.html"
    pages = {
        f"{name}.html": ValidationResultsPageRenderer().render(result),
        suite_page: ExpectationSuitePageRenderer().render(_validated_suite(validation)),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for file_name, document in pages.items():
        html = relink(_html(document), home=home, suite=quote(suite_page))
        (folder / file_name).write_text(html, encoding="utf-8")
    return folder / f"{name}.html"


def relink(html: str, home: str, suite: str) -> str:
    """``html`` with the Data Docs site's links pointed at ``home`` and ``suite``, and the
    status icons drawn without Font Awesome."""
    html = _HOME.sub(lambda _: f'href="{home}"', html)
    html = _SUITE.sub(lambda _: f'href="{suite}"', html)
    return _FAVICON.sub("", html).replace("</head>", f"{STATUS_STYLE}</head>", 1)


def _validation_result(validation: dict, name: str, started: datetime):
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResultSchema,
    )

    validation = json.loads(json.dumps(validation))
    # GX titles the page with the run: name it after the execution, timed at its start.
    validation.setdefault("meta", {})["run_id"] = {
        "run_name": name,
        "run_time": started.isoformat(),
    }
    return ExpectationSuiteValidationResultSchema().load(validation)


def _validated_suite(validation: dict):
    """The suite as the run validated it, from the configuration in each result."""
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    configurations = [
        ExpectationConfiguration(
            type=config["type"], kwargs=config["kwargs"], meta=config.get("meta") or None
        )
        for config in (result["expectation_config"] for result in validation["results"])
    ]
    return ExpectationSuite(name=validation["suite_name"], expectations=configurations)


def _html(document) -> str:
    from great_expectations.render.view import DefaultJinjaPageView

    return DefaultJinjaPageView().render(document)
