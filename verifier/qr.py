"""QR images: read one with zxing-cpp (through Pillow), make one with segno.

Both libraries are imported on first use, so verifying a text never loads them.
"""

from __future__ import annotations

import io

from verifier.reasons import Reason

# A phone photo is ~12 Mpx; anything far beyond is not a QR code worth decoding (and Pillow's
# own decompression-bomb limit is 89 Mpx).
MAX_IMAGE_PIXELS = 40_000_000
MAX_IMAGE_BYTES = 32 * 1024 * 1024


class QrError(ValueError):
    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def decode_qr_image(image: bytes) -> str:
    """The text of the first QR code in a PNG/JPEG/... image. Raises QrError (IMAGE_INVALID,
    IMAGE_TOO_LARGE, QR_UNREADABLE)."""
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    if len(image) > MAX_IMAGE_BYTES:
        raise QrError(Reason.IMAGE_TOO_LARGE, f"{len(image)} bytes")
    try:
        with Image.open(io.BytesIO(image)) as opened:
            width, height = opened.size
            if width * height > MAX_IMAGE_PIXELS:
                raise QrError(Reason.IMAGE_TOO_LARGE, f"{width}x{height} pixels")
            picture = opened.convert("L")
    except Image.DecompressionBombError as exc:  # Pillow refuses it before we could ask its size
        raise QrError(Reason.IMAGE_TOO_LARGE, f"more than {MAX_IMAGE_PIXELS} pixels") from exc
    except UnidentifiedImageError:
        # Pillow's message names the stream object (its address): of no use to anyone.
        raise QrError(Reason.IMAGE_INVALID, "not an image format this verifier reads (PNG, JPEG, GIF...)") from None
    except (OSError, ValueError) as exc:
        if isinstance(exc, QrError):
            raise
        raise QrError(Reason.IMAGE_INVALID, f"not a readable image: {exc}") from None
    barcodes = zxingcpp.read_barcodes(picture, formats=zxingcpp.BarcodeFormat.QRCode)
    for barcode in barcodes:
        if barcode.valid and barcode.text:
            return barcode.text
    raise QrError(Reason.QR_UNREADABLE, "no readable QR code in the image")


def qr_png(text: str, *, error: str = "q", scale: int = 4, border: int = 4) -> bytes:
    """A PNG of ``text`` as a QR code in alphanumeric mode, ECC level Q (the spec's
    recommendation) unless told otherwise."""
    import segno

    code = segno.make_qr(text, error=error, mode="alphanumeric", boost_error=False)
    out = io.BytesIO()
    code.save(out, kind="png", scale=scale, border=border)
    return out.getvalue()
