from __future__ import annotations

from pathlib import Path
from typing import Any

from babel.messages import mofile, pofile
from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    """Compile locale/*/LC_MESSAGES/*.po to .mo with Babel.

    Same result as Django's compilemessages, without needing GNU gettext on the
    machine (the setup must work with only Python and Node).
    """

    help = "Compile the project's translation catalogues (.po → .mo)."

    def handle(self, *args: Any, **options: Any) -> None:
        compiled = 0
        for locale_dir in settings.LOCALE_PATHS:
            for po_path in Path(locale_dir).glob("*/LC_MESSAGES/*.po"):
                mo_path = po_path.with_suffix(".mo")
                if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
                    continue
                with po_path.open("rb") as po_file:
                    catalog = pofile.read_po(po_file)
                with mo_path.open("wb") as mo_file:
                    mofile.write_mo(mo_file, catalog)
                compiled += 1
        self.stdout.write(f"{compiled} translation catalogue(s) compiled")
