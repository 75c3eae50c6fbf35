"""Date and time formats per language (``FORMAT_MODULE_PATH``), over Django's own.

Templates and code name the format (``date:"DATETIME_FORMAT"``), never write one with French
words in it, so English pages read "1 December 2026, 02:35" and French ones
"1 décembre 2026 à 02:35". ``console.synthesis.contact_time`` writes DATETIME_FORMAT by hand
(a hot path): keep them in step."""
