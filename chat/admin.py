from django.contrib import admin

from .models import ChatMessage, Conversation


class ChatMessageInline(admin.TabularInline):
    model = ChatMessage
    extra = 0
    can_delete = False
    fields = ("seq", "kind", "sender", "body", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("case", "citizen", "agent", "status", "last_seq", "created_at", "ended_at")
    list_filter = ("status", "end_reason")
    search_fields = ("case__reference", "citizen__email", "agent__email")
    raw_id_fields = ("case", "citizen", "agent")
    readonly_fields = ("last_seq", "citizen_read_seq", "agent_read_seq")
    inlines = [ChatMessageInline]
