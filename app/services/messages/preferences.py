"""Whether a customer may be sent a message now, and if not, why.

The customer's status comes first: archived, blocked and dormant customers are
sent nothing (DESIGN.md: dormant means no automated messages; a bulk send is
one), unless an admin confirmed one message goes despite the status (a payment
reminder sent by hand). Then the recipient's opt-in for the channel and purpose (Commusoft's
communication preferences; Launch27's unsubscribe). Then an address to send to.
"""
NOT_SENT_TO = {"archived": "customer archived", "blocked": "customer blocked", "dormant": "customer dormant"}
CHANNEL_NAMES = {"email": "e-mail", "sms": "text"}


def skip_reason(status: str, allows: bool, channel: str, purpose: str, address: str | None,
                despite_status: bool = False) -> str | None:
    """None when the message may go; else the reason it is skipped, for the log. `despite_status`: an
    admin confirmed this one message goes whatever the customer's status (a payment reminder sent by
    hand, message.sent_despite_status); the opt-in and the address still decide."""
    if status in NOT_SENT_TO and not despite_status:
        return NOT_SENT_TO[status]
    if not allows:
        if purpose == "marketing":
            return f"not opted in to marketing by {CHANNEL_NAMES[channel]}"
        return f"opted out of service messages by {CHANNEL_NAMES[channel]}"
    if not address:
        return "no e-mail address" if channel == "email" else "no mobile number"
    return None
