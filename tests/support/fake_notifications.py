#!/usr/bin/python3
"""A fake org.freedesktop.Notifications server for tests.

Usage: fake_notifications.py RECORD_FILE   (on the bus named by DBUS_SESSION_BUS_ADDRESS)

Owns org.freedesktop.Notifications, answers Notify / CloseNotification / GetCapabilities /
GetServerInformation like a real server, and appends one JSON line per call to RECORD_FILE:
  {"method": "Notify", "app_name", "replaces_id", "summary", "body", "actions", "urgency",
   "sound_name", "expire_timeout", "id"}
  {"method": "CloseNotification", "id"}
Tests trigger a click with the extra method org.ocbar.FakeNotifications.InvokeAction(u id,
s action_key), which emits ActionInvoked(id, action_key). Prints "ready" once the name is owned.
Needs Debian's python3-dbus and python3-gi (the system interpreter, /usr/bin/python3).
"""

import json
import sys

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
IFACE = "org.freedesktop.Notifications"
TEST_IFACE = "org.ocbar.FakeNotifications"


class Server(dbus.service.Object):
    def __init__(self, bus, record):
        super().__init__(bus, PATH)
        self.record = record
        self.next_id = 1
        self.live = set()

    def write(self, entry):
        with open(self.record, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")

    @dbus.service.method(IFACE, in_signature="susssasa{sv}i", out_signature="u")
    def Notify(self, app_name, replaces_id, app_icon, summary, body, actions, hints, expire_timeout):
        replaces_id = int(replaces_id)
        if replaces_id != 0 and replaces_id in self.live:
            nid = replaces_id
        else:
            nid = self.next_id
            self.next_id += 1
        self.live.add(nid)
        urgency = hints.get("urgency")
        self.write({
            "method": "Notify",
            "app_name": str(app_name),
            "replaces_id": replaces_id,
            "app_icon": str(app_icon),
            "summary": str(summary),
            "body": str(body),
            "actions": [str(a) for a in actions],
            "urgency": None if urgency is None else int(urgency),
            "urgency_is_byte": isinstance(urgency, dbus.Byte),
            "sound_name": None if hints.get("sound-name") is None else str(hints["sound-name"]),
            "expire_timeout": int(expire_timeout),
            "id": nid,
        })
        return dbus.UInt32(nid)

    @dbus.service.method(IFACE, in_signature="u", out_signature="")
    def CloseNotification(self, nid):
        nid = int(nid)
        self.write({"method": "CloseNotification", "id": nid})
        if nid in self.live:
            self.live.discard(nid)
            self.NotificationClosed(dbus.UInt32(nid), dbus.UInt32(3))

    @dbus.service.method(IFACE, in_signature="", out_signature="as")
    def GetCapabilities(self):
        return ["actions", "body", "body-markup"]

    @dbus.service.method(IFACE, in_signature="", out_signature="ssss")
    def GetServerInformation(self):
        return ("fake", "ocbar-tests", "1.0", "1.2")

    @dbus.service.signal(IFACE, signature="uu")
    def NotificationClosed(self, nid, reason):
        pass

    @dbus.service.signal(IFACE, signature="us")
    def ActionInvoked(self, nid, action_key):
        pass

    @dbus.service.method(TEST_IFACE, in_signature="us", out_signature="")
    def InvokeAction(self, nid, action_key):
        self.ActionInvoked(dbus.UInt32(int(nid)), str(action_key))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: fake_notifications.py RECORD_FILE")
    DBusGMainLoop(set_as_default=True)
    bus = dbus.SessionBus()
    name = dbus.service.BusName(NAME, bus, do_not_queue=True)
    server = Server(bus, sys.argv[1])
    print("ready", flush=True)
    loop = GLib.MainLoop()
    try:
        loop.run()
    finally:
        del server, name


if __name__ == "__main__":
    main()
