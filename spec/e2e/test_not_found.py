"""404 item-not-found: no such room on this component, or no such occupant in it."""

from support import MUC, OTHER, assert_json, assert_still_there, join, kick_presences


def test_no_such_room_is_404_item_not_found(api, new_room):
    room = new_room()  # never joined: it does not exist
    response = api.post({"muc": room, "nickname": "Bob"})
    assert_json(response, 404, "item-not-found")
    # asking did not create it either
    assert_json(api.post({"muc": room, "nickname": "Bob"}), 404, "item-not-found")


def test_room_of_another_muc_component_is_404(api, xmpp, bob, new_room):
    room = new_room(OTHER)
    join(xmpp, bob, room, "Bob")

    response = api.post({"muc": room, "nickname": "Bob"})  # sent to muc.localhost

    assert_json(response, 404, "item-not-found")
    assert kick_presences(bob, room, "Bob") == []
    # the same room name on muc.localhost does not exist either, and Bob stays in other.localhost
    same_name = room.replace(f"@{OTHER}", f"@{MUC}")
    assert_json(api.post({"muc": same_name, "nickname": "Bob"}), 404, "item-not-found")
    assert kick_presences(bob, room, "Bob") == []


def test_room_on_a_domain_that_is_not_a_component_is_404(api):
    for muc in ("room@localhost", "room@elsewhere.example"):
        assert_json(api.post({"muc": muc, "nickname": "Bob"}), 404, "item-not-found")


def test_unknown_nickname_is_404_item_not_found(api, xmpp, alice, bob, new_room):
    room = new_room()
    join(xmpp, alice, room, "Alice")
    join(xmpp, bob, room, "Bob")

    assert_json(api.post({"muc": room, "nickname": "Mallory"}), 404, "item-not-found")

    assert_still_there(api, xmpp, bob, room, "Bob")
    assert_still_there(api, xmpp, alice, room, "Alice")


def test_jid_of_an_account_not_in_the_room_is_404(api, xmpp, bob, new_room):
    room = new_room()
    join(xmpp, bob, room, "Bob")

    assert_json(api.post({"muc": room, "jid": "carol@localhost"}), 404, "item-not-found")
    assert_json(api.post({"muc": room, "jid": "nobody@localhost"}), 404, "item-not-found")
    assert_still_there(api, xmpp, bob, room, "Bob")


def test_full_jid_of_a_session_not_in_the_room_is_404(api, xmpp, bob, new_room):
    room = new_room()
    join(xmpp, bob, room, "Bob")  # from bob@localhost/phone

    assert_json(api.post({"muc": room, "jid": "bob@localhost/laptop"}), 404, "item-not-found")
    assert_still_there(api, xmpp, bob, room, "Bob")


def test_nickname_of_an_occupant_who_left_is_404(api, xmpp, alice, bob, new_room):
    room = new_room()
    join(xmpp, alice, room, "Alice")
    join(xmpp, bob, room, "Bob")
    bob.send_presence(pto=f"{room}/Bob", ptype="unavailable")
    xmpp.run(alice.wait_for(lambda p: p.get("from") == f"{room}/Bob" and p.get("type") == "unavailable"))

    assert_json(api.post({"muc": room, "nickname": "Bob"}), 404, "item-not-found")
