"""Request bodies as pydantic models: the same models validate requests and generate the OpenAPI document,
so the two cannot drift. Strict types: ``"beam_size": "abc"``, ``true`` or ``1e309`` are refused, not coerced.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from service.summaries.options import MAX_SENTENCES, MAX_WORDS, SummaryOptions
from service.validation import CleanText

LanguageCode = Annotated[str, StringConstraints(min_length=2, max_length=16, pattern=r"^[A-Za-z_-]+$")]
GlossaryName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SummaryParams(Strict):
    sentences: int | None = Field(None, ge=1, le=MAX_SENTENCES, description="length in sentences (default 3)")
    words: int | None = Field(None, ge=1, le=MAX_WORDS, description="length in words")
    ratio: float | None = Field(None, gt=0, le=1, allow_inf_nan=False, description="share of the sentences")
    style: Literal["paragraph", "bullets"] = "paragraph"
    method: Literal["extractive", "abstractive", "auto"] = "extractive"
    mode: Literal["translate", "summarise_target"] = Field(
        "translate", description="translate the source summary, or summarise each translation")
    include_headline: bool = False

    def options(self) -> SummaryOptions:
        return SummaryOptions(**self.model_dump())


class TranslateBody(Strict):
    text: CleanText | list[CleanText] = Field(description="a text, or a list of texts (each translated on its own)",
                                  examples=["Pertemuan tahunan ASCN ke-8 di Kuala Lumpur."])
    source: LanguageCode = Field("auto", description="ISO 639-1 or FLORES-200 code, or auto", examples=["id"])
    targets: list[LanguageCode] = Field(min_length=1, description="one or several target languages",
                                        examples=[["ms", "en"]])
    glossary: list[GlossaryName] | None = Field(
        None, description="glossaries to apply, later ones win; omitted: the default; []: none")
    beam_size: int | None = Field(None, ge=1, le=8)
    alternatives: int = Field(1, ge=1, le=8, description="hypotheses per sentence (at most beam_size)")
    summary: SummaryParams | None = None
    format: Literal["text", "html"] = Field(
        "text", description="html: each text is HTML (a page or a fragment), translated with its tags kept")
    layout: Literal["keep", "reflow", "auto"] | None = Field(
        None, description="hard-wrapped lines: keep every line, reflow paragraphs, or auto (join lines that "
                          "continue a sentence); omitted: the server's setting (auto)")

    def texts(self) -> list[str]:
        return [self.text] if isinstance(self.text, str) else list(self.text)


class DetectBody(Strict):
    text: CleanText = Field(min_length=1)


class SummarizeBody(SummaryParams):
    text: CleanText = Field(min_length=1)
    language: LanguageCode = Field("auto", description="the text's language, or auto")

    def options(self) -> SummaryOptions:
        return SummaryOptions(**self.model_dump(exclude={"text", "language"}))


REQUEST_MODELS: dict[str, type[BaseModel]] = {
    "TranslateBody": TranslateBody, "DetectBody": DetectBody, "SummarizeBody": SummarizeBody,
}
