"""Notification channels behind one port: the Notifier protocol and its adapters.

The dispatch use case depends only on `Notifier`, `Message` and the delivery outcome
types; `build_notifier` picks an adapter from settings. No Flask here.
"""

from service.notify.base import DeliveryError, DeliveryReport, Device, Message, Notifier
from service.notify.factory import NotifierSettings, build_notifier

__all__ = [
    "DeliveryError",
    "DeliveryReport",
    "Device",
    "Message",
    "Notifier",
    "NotifierSettings",
    "build_notifier",
]
