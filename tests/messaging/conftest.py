"""Messaging fixtures: files of every kind (valid and disguised) and helpers."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from messaging.demo import simple_pdf
from tests.upload_samples import pdf_of_size, valid_jpeg, valid_png

PNG_BYTES = valid_png()
JPEG_BYTES = valid_jpeg()
EXE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200 + b"PE\x00\x00"


def pdf_file(name="justificatif.pdf", text="Avis d'imposition 2025"):
    return SimpleUploadedFile(name, simple_pdf([text]), content_type="application/pdf")


def png_file(name="photo.png"):
    return SimpleUploadedFile(name, PNG_BYTES, content_type="image/png")


def jpeg_file(name="scan.jpg"):
    return SimpleUploadedFile(name, JPEG_BYTES, content_type="image/jpeg")


def exe_as_pdf(name="facture.pdf"):
    return SimpleUploadedFile(name, EXE_BYTES, content_type="application/pdf")


def big_pdf(size, name="gros.pdf"):
    return SimpleUploadedFile(name, pdf_of_size(size), content_type="application/pdf")


@pytest.fixture
def files():
    return type(
        "Files",
        (),
        {
            "pdf": staticmethod(pdf_file),
            "png": staticmethod(png_file),
            "jpeg": staticmethod(jpeg_file),
            "exe_as_pdf": staticmethod(exe_as_pdf),
            "big_pdf": staticmethod(big_pdf),
        },
    )


@pytest.fixture
def bytes_io():
    return io.BytesIO


@pytest.fixture
def chatbot_conversation(citizen, topic_a):
    """A real assistant conversation of ``citizen`` (knowledge app), fragile, one turn."""
    from knowledge.models import Conversation, Turn

    conversation = Conversation.objects.create(user=citizen, topic=topic_a, fragile=True)
    Turn.objects.create(
        conversation=conversation,
        seq=1,
        question="Ma carte vitale est perdue et je suis à bout",
        answer="Je vous mets en relation avec un conseiller.",
        outcome="handoff",
    )
    return conversation
