"""Signals of routing (connect to them in an ``AppConfig.ready``).

- ``cases_claimed(agent_id, case_ids)``: the automatic engine (``route_case``, one pass of
  ``assign_available``) just gave these cases to the agent; sent inside the assigning
  transaction, before its commit, once per call, once the cases and their timeline events are
  written and before the engine registers the commit hook of its notifications (a commit hook
  registered by a listener runs first, right after COMMIT). The PostgreSQL claim writes the cases'
  ``assignment`` timeline events in its own statement, so no ``post_save`` of ``Event`` is sent
  for them: this signal is how a listener hears of them (the after-commit notification of each
  case is ``contactcenter.signals.case_assigned``).
- ``live_sections(service_ids, now)``: the supervisor live view is being built for these
  services; a channel's receiver returns a ``routing.live.LiveSection`` (a table of its own:
  the voice server's calls waiting, in self-service, with agents) or None.
- ``agent_activities(agent_ids, now)``: the same view lists these agents; a channel's receiver
  returns ``{agent_id: routing.live.AgentActivity}`` for the agents it knows more about than
  their presence (an agent whose call is on hold), shown instead of the presence status.
"""

from django.dispatch import Signal

cases_claimed = Signal()
live_sections = Signal()
agent_activities = Signal()
