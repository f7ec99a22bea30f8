"""The question types a survey file may use, one module each (see base.py for what a type
owns). A new type is a module here and a line in `AnyQuestion`."""

from __future__ import annotations

from typing import Annotated, get_args

from pydantic import Field

from conversations.questions.base import (
    AnswerValue,
    Asking,
    Branch,
    Identifier,
    Invalid,
    LanguageCode,
    Model,
    Option,
    QuestionBase,
    Texts,
    in_words,
)
from conversations.questions.choice import MultipleChoice, SingleChoice
from conversations.questions.date import DateQuestion
from conversations.questions.free_text import FreeText
from conversations.questions.numeric import Number, Scale

AnyQuestion = SingleChoice | MultipleChoice | Scale | FreeText | Number | DateQuestion
Question = Annotated[AnyQuestion, Field(discriminator="type")]
# what survey files write as `type:`, in the order the checks list them
TYPE_NAMES = tuple(
    get_args(kind.model_fields["type"].annotation)[0] for kind in get_args(AnyQuestion)
)

__all__ = [
    "TYPE_NAMES",
    "AnswerValue",
    "AnyQuestion",
    "Asking",
    "Branch",
    "DateQuestion",
    "FreeText",
    "Identifier",
    "Invalid",
    "LanguageCode",
    "Model",
    "MultipleChoice",
    "Number",
    "Option",
    "Question",
    "QuestionBase",
    "Scale",
    "SingleChoice",
    "Texts",
    "in_words",
]
