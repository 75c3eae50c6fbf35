"""Signals of routing (connect to them in an ``AppConfig.ready``).

- ``cases_claimed(agent_id, case_ids)``: the automatic engine (``route_case``, one pass of
  ``assign_available``) just gave these cases to the agent; sent inside the assigning
  transaction, before its commit, once per call. The PostgreSQL claim writes the cases'
  ``assignment`` timeline events in its own statement, so no ``post_save`` of ``Event`` is sent
  for them: this signal is how a listener hears of them (the after-commit notification of each
  case is ``contactcenter.signals.case_assigned``).
"""

from django.dispatch import Signal

cases_claimed = Signal()
