"""Pages of the live chat (thin: parse, check, call services, render).

Citizen: start a chat, the conversation page (with a no-JavaScript fallback for sending),
files, leaving, rating. Agent: the chat workspace (conversations side by side), one panel,
ending with a summary, transferring. Supervisor: live chats of their services, observed
read-only. The live part runs over the websocket (``chat.consumers``).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from contactcenter.attachments import check_upload
from contactcenter.decorators import agent_required, citizen_required, staff_required
from contactcenter.idempotency import idempotent
from contactcenter.models import Satisfaction
from contactcenter.permissions import record_access, user_service_ids
from contactcenter.services import rate_case
from contactcenter.views import private_file_response

from . import services
from .forms import RatingForm, StartChatForm, SummaryForm, TransferForm
from .models import ChatAttachment, Conversation


def _access_or_404(user, pk, *, audit=True) -> services.Access:
    access = services.access_for(user, pk, audit=audit)
    if access is None:
        raise Http404("Conversation introuvable")
    return access


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _message_list(conversation: Conversation):
    return list(
        conversation.messages.select_related("sender")
        .prefetch_related("attachments")
        .order_by("seq")
    )


# --- entry points ---------------------------------------------------------------------------------


@login_required
def index(request):
    user = request.user
    if user.is_citizen:
        conversation = services.open_conversation_of(user)
        if conversation is not None:
            return redirect("chat:conversation", conversation.pk)
        return redirect("chat:start")
    if user.is_agent:
        return redirect("chat:agent")
    if user.is_staff_member:
        return redirect("chat:supervision")
    raise PermissionDenied


@login_required
@require_GET
def availability(request):
    """The chat availability per topic (the live button's fallback when the socket is down)."""
    from routing import availability_snapshot

    return JsonResponse({"topics": availability_snapshot()})


# --- citizen -------------------------------------------------------------------------------------


@citizen_required
def start(request):
    existing = services.open_conversation_of(request.user)
    if existing is not None:
        messages.info(request, _("Vous avez déjà un tchat en cours : le voici."))
        return redirect("chat:conversation", existing.pk)
    unavailable = False
    if request.method == "POST":
        form = StartChatForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                conversation = services.start_chat(
                    request.user,
                    data["topic"],
                    data["body"],
                    client_id=data["client_id"],
                    chatbot_conversation=data["chatbot"],
                    fragile=data["fragile"],
                )
            except services.ChatUnavailable:
                # Not an input error: the page says why (hours or no free agent) and offers
                # the alternatives instead of a red message on the topic field.
                unavailable = True
            except ValidationError as exc:
                if getattr(exc, "code", None) == "already_open" and exc.params:
                    return redirect("chat:conversation", exc.params["conversation"])
                if hasattr(exc, "error_dict"):
                    for field, errors in exc.message_dict.items():
                        form.add_error(field if field in form.fields else None, errors)
                else:
                    form.add_error(None, exc.messages)
            else:
                return redirect("chat:conversation", conversation.pk)
    else:
        form = StartChatForm(
            initial={
                "topic": request.GET.get("topic", ""),
                "client_id": services.new_client_id(),
                "chatbot": request.GET.get("chatbot", "")[:64],
                "fragile": request.GET.get("fragile") == "1",
            }
        )
    chatbot = form["chatbot"].value() or ""
    handoff = services.handoff_context(chatbot, request.user) if chatbot else ""
    topic = form["topic"].value() or ""
    topic_slug = topic if isinstance(topic, str) else ""
    from routing import closed_chat_hours

    # Closed service: said before the citizen writes (GET with a topic) and after a refusal.
    closed_hours = closed_chat_hours(topic_slug) if topic_slug else []
    return render(
        request,
        "chat/start.html",
        {
            "form": form,
            "handoff": handoff,
            "unavailable": unavailable or bool(closed_hours),
            "closed_hours": closed_hours,
            "topic_slug": topic_slug,
        },
        status=200,
    )


def _conversation_context(request, conversation: Conversation, role: str, **extra) -> dict:
    case = conversation.case
    context = {
        "conversation": conversation,
        "case": case,
        "role": role,
        "chat_messages": _message_list(conversation),
        "max_chars": services.MAX_CHARS,
        "queue": services.queue_status(case)
        if conversation.status == Conversation.Status.WAITING
        else {},
        **extra,
    }
    return context


@login_required
def conversation(request, pk):
    """The citizen's chat page; staff with access get the read-only observer page."""
    user = request.user
    if user.is_agent:
        _access_or_404(user, pk, audit=False)
        return redirect(reverse("chat:agent") + f"#tchat-{pk}")
    access = _access_or_404(user, pk)
    conv = Conversation.objects.select_related("case__topic", "case__service", "agent").get(
        pk=access.conversation_id
    )
    if access.role == "observer":
        return render(
            request, "chat/observe.html", _conversation_context(request, conv, "observer")
        )
    case = conv.case
    rating = Satisfaction.objects.filter(case=case, event=None).first()
    return render(
        request,
        "chat/conversation.html",
        _conversation_context(
            request,
            conv,
            "citizen",
            rating_form=RatingForm(),
            rating=rating,
            body=request.GET.get("body", ""),
        ),
    )


@citizen_required
@require_POST
def send(request, pk):
    """No-JavaScript fallback: post a message through a plain form, then back to the page."""
    access = _access_or_404(request.user, pk)
    client_id = request.POST.get("client_id") or services.new_client_id()
    body = request.POST.get("body", "")
    try:
        posted = services.post_message(access.conversation_id, request.user, body, client_id)
    except services.DuplicateMessage:
        pass
    except ValidationError as exc:
        conv = Conversation.objects.select_related("case__topic", "agent").get(pk=pk)
        return render(
            request,
            "chat/conversation.html",
            _conversation_context(
                request,
                conv,
                "citizen",
                rating_form=RatingForm(),
                body=body,
                body_errors=exc.messages,
            ),
            status=400,
        )
    else:
        services.publish_now(pk, {"type": "chat.message", "message": posted.payload})
    return redirect(reverse("chat:conversation", args=[pk]) + "#chat-composer")


@login_required
@require_POST
def upload(request, pk):
    """A file (PDF, JPEG or PNG, 10 MB at most) with an optional caption, as one message."""
    access = _access_or_404(request.user, pk, audit=False)
    if not access.can_write:
        raise Http404
    upload_file = request.FILES.get("file")
    client_id = request.POST.get("client_id") or services.new_client_id()
    errors: dict[str, list[str]] = {}
    checked = None
    if upload_file is None:
        errors["file"] = [_("Choisissez un fichier à envoyer.")]
    else:
        try:
            checked = check_upload(upload_file)
        except ValidationError as exc:
            errors["file"] = exc.messages
    if not errors and upload_file is not None and checked is not None:
        try:
            posted = services.post_message(
                pk,
                request.user,
                request.POST.get("body", ""),
                client_id,
                files=[upload_file],
                checked=[checked],
            )
        except services.DuplicateMessage as duplicate:
            posted = services.Posted(
                duplicate.message, False, services.message_payload(duplicate.message)
            )
        except ValidationError as exc:
            errors["body"] = exc.messages
    if errors:
        if _wants_json(request):
            return JsonResponse({"errors": errors}, status=400)
        for field_errors in errors.values():
            for error in field_errors:
                messages.error(request, error)
        return redirect(_after_upload_url(request, pk))
    if posted.created:
        services.publish_now(pk, {"type": "chat.message", "message": posted.payload})
    if _wants_json(request):
        return JsonResponse({"message": posted.payload}, status=201 if posted.created else 200)
    messages.success(request, _("Le document a été envoyé."))
    return redirect(_after_upload_url(request, pk))


def _after_upload_url(request, pk) -> str:
    if request.user.is_citizen:
        return reverse("chat:conversation", args=[pk])
    return reverse("chat:agent") + f"#tchat-{pk}"


@login_required
@require_GET
def attachment(request, pk, public_id):
    access = _access_or_404(request.user, pk, audit=False)
    item = (
        ChatAttachment.objects.select_related("message__conversation__case")
        .filter(public_id=public_id, message__conversation_id=access.conversation_id)
        .first()
    )
    if item is None:
        raise Http404("Pièce jointe introuvable")
    if access.role != "citizen":
        record_access(
            request.user,
            "view_attachment",
            case=item.message.conversation.case,
            detail={"chat_attachment": str(item.public_id)},
        )
    return private_file_response(item.file, item.original_name, item.content_type)


@citizen_required
@require_POST
def leave(request, pk):
    access = _access_or_404(request.user, pk)
    try:
        services.leave(access.conversation_id, request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Vous avez quitté la conversation."))
    return redirect("chat:conversation", pk)


@citizen_required
@require_POST
@idempotent
def rate(request, pk):
    access = _access_or_404(request.user, pk)
    conv = Conversation.objects.select_related("case__topic", "agent").get(
        pk=access.conversation_id
    )
    form = RatingForm(request.POST)
    if form.is_valid():
        try:
            rate_case(
                conv.case, request.user, form.cleaned_data["score"], form.cleaned_data["comment"]
            )
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            messages.success(request, _("Merci pour votre avis."))
            return redirect("chat:conversation", pk)
    return render(
        request,
        "chat/conversation.html",
        _conversation_context(request, conv, "citizen", rating_form=form),
        status=400,
    )


# --- agent ---------------------------------------------------------------------------------------


def _panel_context(request, conv: Conversation, **extra) -> dict:
    prefix = f"c{conv.pk}"
    return _conversation_context(
        request,
        conv,
        "agent",
        summary_form=extra.pop("summary_form", None) or SummaryForm(prefix_id=prefix),
        transfer_form=extra.pop("transfer_form", None)
        or TransferForm(case=conv.case, prefix_id=prefix),
        **extra,
    )


@agent_required
def agent_workspace(request):
    from routing import get_presence

    conversations = list(services.agent_conversations(request.user))
    panels = []
    for conv in conversations:
        services.access_for(request.user, conv.pk)  # audit: the agent reads the citizen's chat
        panels.append(_panel_context(request, conv))
    presence = get_presence(request.user)
    return render(
        request,
        "chat/agent.html",
        {"panels": panels, "capacity": presence.capacity_chat, "presence": presence},
    )


def _agent_conversation(request, pk, *, audit: bool = False) -> Conversation:
    """The conversation ``pk`` handled by the requesting agent (else 404); ``audit``: record the
    reading (once the access is checked, from the rows already read)."""
    conv = (
        Conversation.objects.select_related("case__topic", "case__service", "citizen")
        .filter(pk=pk)
        .first()
    )
    if conv is None:
        raise Http404("Conversation introuvable")
    access = services.access_to(request.user, conv, audit=False)
    if access is None or access.role != "agent":
        raise Http404("Conversation introuvable")
    if conv.citizen_id == conv.case.citizen_id:
        conv.case.citizen = conv.citizen  # the panel's title: no second read of the citizen
    if audit:
        citizen = conv.citizen if conv.citizen_id == conv.case.citizen_id else None
        services.audit_access(request.user, access, conv.case, citizen=citizen)
    return conv


@agent_required
@require_GET
def panel(request, pk):
    conv = _agent_conversation(request, pk, audit=True)
    return render(request, "chat/_agent_panel.html", _panel_context(request, conv))


@agent_required
@require_POST
@idempotent
def finish(request, pk):
    conv = _agent_conversation(request, pk)
    form = SummaryForm(request.POST, prefix_id=f"c{pk}")
    if form.is_valid():
        try:
            services.finish_with_summary(pk, request.user, form.cleaned_data["summary"])
        except ValidationError as exc:
            form.add_error(
                "summary"
                if getattr(exc, "code", None) in (None, "required", "max_length")
                else None,
                exc.messages,
            )
        else:
            if request.htmx:
                return render(request, "chat/_finished.html", {"conversation": conv})
            messages.success(
                request,
                _("Synthèse envoyée à l'usager ; la conversation %(ref)s est close.")
                % {"ref": conv.case.reference},
            )
            return redirect("chat:agent")
    context = _panel_context(request, conv, summary_form=form)
    if request.htmx:
        return render(request, "chat/_summary_form.html", context)
    return render(request, "chat/agent.html", {"panels": [context], "capacity": None}, status=400)


@agent_required
@require_POST
@idempotent
def transfer(request, pk):
    conv = _agent_conversation(request, pk)
    form = TransferForm(request.POST, case=conv.case, prefix_id=f"c{pk}")
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.transfer(
                pk,
                request.user,
                reason=data["reason"],
                to_service=data["to_service"],
                to_agent=data["to_agent"],
                to_topic=data["to_topic"],
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error(None, exc.messages)
        else:
            if request.htmx:
                return render(request, "chat/_transferred.html", {"conversation": conv})
            messages.success(
                request,
                _("La conversation %(ref)s a été transférée.") % {"ref": conv.case.reference},
            )
            return redirect("chat:agent")
    context = _panel_context(request, conv, transfer_form=form)
    if request.htmx:
        return render(request, "chat/_transfer_form.html", context)
    return render(request, "chat/agent.html", {"panels": [context], "capacity": None}, status=400)


# --- supervisor ----------------------------------------------------------------------------------


@staff_required
def supervision(request):
    user = request.user
    if user.is_agent:
        return redirect("chat:agent")
    conversations = Conversation.objects.filter(status__in=Conversation.OPEN_STATUSES)
    if not user.is_admin_role:
        conversations = conversations.filter(case__service_id__in=user_service_ids(user))
    conversations = conversations.select_related(
        "case__topic", "case__service", "agent", "citizen"
    ).order_by("created_at")
    return render(request, "chat/supervision.html", {"conversations": conversations})
