"""The admin's form for what a country signs offline with its UPLOAD key (a DSC, a rule): the base64
CMS pasted or chosen as a file. The key never reaches the gateway; the form only carries the text,
which the service decodes (so that a refusal of it is recorded like any other)."""

from __future__ import annotations

from typing import Any

from django import forms

# Read at most this much of a chosen file: the request that carries it is bounded before (gateway.middleware).
MAX_TEXT = 70_000


class SignedUploadForm(forms.Form):
    """Subclasses say what is signed (``signed``, e.g. "The DSC") and how to make it offline
    (``make_it``, a command), and name an example file."""

    signed = "The content"
    make_it = ""
    example_file = "upload.cms"

    country = forms.ChoiceField()
    cms = forms.CharField(
        label="Signed upload (pasted)", required=False, widget=forms.Textarea(attrs={"rows": 8, "cols": 90})
    )
    cms_file = forms.FileField(label="…or as a file", required=False)

    def __init__(self, *args: Any, countries: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = [(c, c) for c in countries]
        self.fields["cms"].help_text = (
            f"{self.signed} signed with your country's UPLOAD key, as base64 text (a CMS message). "
            f"Make it where that key is kept, with: {self.make_it}"
        )
        self.fields["cms_file"].help_text = f"The same signed upload saved as a file (e.g. {self.example_file})."

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("cms_file")
        text = upload.read(MAX_TEXT).decode("ascii", "replace") if upload else data.get("cms", "")
        if not text.strip():
            raise forms.ValidationError("Paste the signed upload or choose its file.")
        data["cms_text"] = text  # decoded by the service, which records a refusal of it
        return data
