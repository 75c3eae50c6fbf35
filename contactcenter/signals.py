"""Cross-app hooks. contactcenter imports no other app: other apps connect to these.

- ``case_needs_routing(case_id)``: a contact arrived or came back to a queue; routing connects
  and queues its assignment task after commit.
- ``demo_loaded(people, real_hours)``: sent at the end of ``load_demo``; apps add their own
  demo data (``real_hours``: realistic opening hours instead of 24/7).
- ``case_assigned(case_id, agent_id, channel, pending_transfer)``: routing gave the case an owner
  (sent after commit); channels connect to push it to the agent's console. ``pending_transfer``:
  whether a transfer of the case waits to be accepted (None when routing did not read it).
- ``screen_pop(case_id, agent_id, focus=True)``: a channel rings an agent with a live contact
  (a call, a visio) and asks their workstation to open the case now; the console connects and
  publishes after commit (``console.screenpop``). Routing's assignments of chats, callbacks
  and calls pop by themselves (``case_assigned``).
- ``citizen_notification(citizen_id, case_id, kind)``: tell a citizen that something awaits them
  in their space (never the content); messaging connects and writes the outbox.
"""

from django.dispatch import Signal

case_needs_routing = Signal()
citizen_notification = Signal()
demo_loaded = Signal()
case_assigned = Signal()
screen_pop = Signal()
