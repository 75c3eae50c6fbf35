"""Attachment checks, kept here for compatibility: they live in ``contactcenter.attachments``.

Chat and messaging both check uploads, and no channel imports another, so the checks belong to
the core; import them from there in new code.
"""

from contactcenter.attachments import (
    EXECUTABLE_SIGNATURES,
    EXTENSIONS,
    JPEG,
    PDF,
    PNG,
    PREFERRED_EXTENSION,
    CheckedFile,
    check_upload,
    check_uploads,
    clean_name,
    format_size,
    hidden_executable,
    max_bytes,
    max_count,
    sniff,
)

__all__ = [
    "EXECUTABLE_SIGNATURES",
    "EXTENSIONS",
    "JPEG",
    "PDF",
    "PNG",
    "PREFERRED_EXTENSION",
    "CheckedFile",
    "check_upload",
    "check_uploads",
    "clean_name",
    "format_size",
    "hidden_executable",
    "max_bytes",
    "max_count",
    "sniff",
]
