"""Reading survey files from disk: one broken file is reported and the others still load."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from conversations.checks import Checked, Problem, read_survey
from conversations.survey import Survey
from conversations.text import fold

log = logging.getLogger(__name__)


def _example_surveys() -> Path:
    """surveys/ beside bot/ in a checkout (or an editable install), else the copy that a
    non-editable install puts inside the package (pyproject's bot.example_surveys)."""
    beside = Path(__file__).resolve().parent.parent / "surveys"
    return beside if beside.is_dir() else Path(__file__).resolve().parent / "example_surveys"


EXAMPLE_SURVEYS = _example_surveys()


def check_file(path: Path) -> Checked:
    """Read and check one file; unreadable or undecodable files become problems too."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        return Checked(None, [Problem(str(path), None, f"cannot read the file: {error.strerror}")])
    except UnicodeDecodeError as error:
        return Checked(None, [Problem(str(path), None, f"not UTF-8 text (byte {error.start})")])
    return read_survey(text, source=str(path))


@dataclass
class SurveyCatalogue:
    """The surveys that loaded, by id, and the problems of those that did not."""

    surveys: dict[str, Survey] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    # the keywords folded, by the surveys they were folded of: asked at most messages
    _indexed: tuple[Survey, ...] = field(default=(), repr=False, compare=False)
    _keywords: dict[str, Survey] = field(default_factory=dict, repr=False, compare=False)

    def named(self, name: str) -> Survey | None:
        """The survey a coordinator named, by its id or its keyword."""
        return self.surveys.get(name) or self.by_keyword(name)

    def no_such(self, name: str) -> str:
        """What to tell a coordinator who named a survey that is not loaded."""
        known = ", ".join(sorted(self.surveys)) or "none loaded"
        return f"There is no survey '{name}'. Surveys: {known}."

    def by_keyword(self, text: str) -> Survey | None:
        """The survey whose keyword `text` is, in any case or accents."""
        surveys = tuple(self.surveys.values())
        if surveys != self._indexed:  # the same surveys: compared by identity, at once
            self._keywords = {}
            for survey in surveys:
                if survey.keyword:
                    self._keywords.setdefault(fold(survey.keyword), survey)
            self._indexed = surveys
        return self._keywords.get(fold(text))


def survey_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.y*ml"))


def load_folder(folder: Path) -> SurveyCatalogue:
    catalogue = SurveyCatalogue()
    for path in survey_files(folder):
        checked = check_file(path)
        catalogue.problems.extend(checked.problems)
        survey = checked.survey
        if survey is None:
            log.error("survey file %s not loaded: %s", path, "; ".join(map(str, checked.errors)))
        elif survey.id in catalogue.surveys:
            problem = Problem(str(path), None, f"survey id '{survey.id}' is used by another file")
            catalogue.problems.append(problem)
            log.error("%s", problem)
        elif survey.keyword and catalogue.by_keyword(survey.keyword):
            problem = Problem(
                str(path), None, f"keyword '{survey.keyword}' is used by another file; not loaded"
            )
            catalogue.problems.append(problem)
            log.error("%s", problem)
        else:
            catalogue.surveys[survey.id] = survey
    return catalogue
