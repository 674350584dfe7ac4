"""Which webhook targets are allowed: the address table, URL forms, host names, allow-list."""

import ipaddress
import re
from collections.abc import Sequence

import pytest

from notifications import targets
from notifications import webhook_delivery as webhooks
from notifications.targets import TargetRefused

ALLOWED = [
    "1.1.1.1",
    "8.8.8.8",
    "93.184.216.34",
    "100.63.255.255",  # just below the shared (CGNAT) range
    "172.32.0.1",  # just above 172.16.0.0/12
    "2606:4700:4700::1111",
    "2a00:1450:4001:80b::200e",
    "64:ff9b::808:808",  # NAT64 (DNS64) form of a public IPv4 address
]

REFUSED = {
    # IPv4
    "0.0.0.0": "unspecified",  # noqa: S104  (a value to classify, not a bind)
    "10.1.2.3": "private",
    "100.64.0.1": "carrier-grade NAT",
    "127.0.0.1": "loopback",
    "127.255.255.254": "loopback",
    "169.254.169.254": "link-local",
    "172.16.0.1": "private",
    "192.0.0.9": "IETF protocol assignment",
    "192.0.2.1": "documentation",
    "192.88.99.1": "6to4 relay",
    "192.168.1.1": "private",
    "198.18.0.1": "benchmarking",
    "198.51.100.7": "documentation",
    "203.0.113.7": "documentation",
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast",
    "240.0.0.1": "reserved",
    "255.255.255.255": "broadcast",
    # IPv6 proper
    "::": "unspecified",
    "::1": "loopback",
    "fe80::1": "link-local",
    "fec0::1": "site-local",
    "fc00::1": "unique local",
    "fd12:3456::1": "unique local",
    "ff02::1": "multicast",
    "ff0e::1": "multicast",
    "100::1": "discard-only",
    "2001:db8::1": "documentation",
    "3fff::1": "documentation",
    "2001:2::1": "IETF protocol assignment",
    "2001:10::1": "IETF protocol assignment",
    "5f00::1": "segment routing",
    "4000::1": "outside the global unicast range",
    # IPv6 forms that carry an IPv4 address: judged by that address first
    "::127.0.0.1": "IPv4-compatible address embedding 127.0.0.1, a loopback",
    "::10.0.0.1": "IPv4-compatible address embedding 10.0.0.1, a private",
    "::8.8.8.8": "IPv4-compatible address (deprecated)",
    "::ffff:127.0.0.1": "IPv4-mapped address embedding 127.0.0.1, a loopback",
    "::ffff:169.254.169.254": "IPv4-mapped address embedding 169.254.169.254, a link-local",
    "::ffff:8.8.8.8": "IPv4-mapped address",
    "64:ff9b::7f00:1": "NAT64 address embedding 127.0.0.1, a loopback",
    "64:ff9b::a9fe:a9fe": "NAT64 address embedding 169.254.169.254, a link-local",
    "64:ff9b:1::7f00:1": "local-use NAT64",
    "64:ff9b:1::808:808": "local-use NAT64",
    "2002:7f00:1::": "6to4 address embedding 127.0.0.1, a loopback",
    "2002:a00:1::1": "6to4 address embedding 10.0.0.1, a private",
    "2002:808:808::1": "6to4 tunnel address",
    # Teredo: the server's IPv4 in bits 32-63, the client's in the last 32 XOR 0xffffffff
    "2001:0:7f00:1::": "Teredo address embedding 127.0.0.1, a loopback",
    "2001:0:808:808::80ff:fffe": "Teredo address embedding 127.0.0.1, a loopback",
    "2001:0:808:808::f7f7:f7f7": "Teredo tunnel address",
}


@pytest.mark.parametrize("text", ALLOWED)
def test_globally_routable_unicast_addresses_are_allowed(text: str) -> None:
    address = ipaddress.ip_address(text)
    assert targets.refusal(address) is None
    assert targets.is_allowed(address)


@pytest.mark.parametrize(("text", "reason"), REFUSED.items())
def test_other_addresses_are_refused_with_the_reason(text: str, reason: str) -> None:
    address = ipaddress.ip_address(text)
    why = targets.refusal(address)
    assert why is not None
    assert reason in why
    assert not targets.is_allowed(address)


def test_embedded_ipv4_addresses_are_found_in_every_form() -> None:
    def found(text: str) -> list[str]:
        return [str(v4) for _form, v4 in targets.embedded_ipv4(ipaddress.IPv6Address(text))]

    assert found("::ffff:1.2.3.4") == ["1.2.3.4"]
    assert found("::1.2.3.4") == ["1.2.3.4"]
    assert found("64:ff9b::102:304") == ["1.2.3.4"]
    assert found("2002:102:304::") == ["1.2.3.4"]
    # Teredo: server 65.54.227.120, client 192.0.2.45 (RFC 4380's example)
    assert found("2001:0:4136:e378:8000:63bf:3fff:fdd2") == ["65.54.227.120", "192.0.2.45"]
    assert found("2606:4700::1111") == []
    assert found("::1") == []


@pytest.mark.parametrize(
    "url",
    [
        "http://[::127.0.0.1]/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://[64:ff9b::7f00:1]/x",
        "http://[64:ff9b:1::7f00:1]/x",
        "http://[2002:7f00:1::]/x",
        "http://[2001:0:7f00:1::]/x",
        "http://[fec0::1]/x",
        "https://[3fff::1]:8443/x",
        "http://0.0.0.0:8080/x",
    ],
)
def test_address_literals_in_urls_are_refused_at_subscription(url: str) -> None:
    with pytest.raises(TargetRefused, match="RATIFY_WEBHOOK_ALLOWED_HOSTS"):
        webhooks.check_target(url, frozenset())


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://user:pass@93.184.216.34/x", "must not contain a user name or password"),
        ("https://user@93.184.216.34/x", "must not contain a user name or password"),
        ("ftp://93.184.216.34/x", "absolute http(s) URL"),
        ("/relative", "absolute http(s) URL"),
        ("http:///x", "absolute http(s) URL"),
        ("http://[::1/x", "absolute http(s) URL"),
    ],
)
def test_url_forms_are_refused_with_a_clear_message(url: str, message: str) -> None:
    with pytest.raises(TargetRefused, match=re.escape(message)):
        webhooks.check_target(url, frozenset({"93.184.216.34"}))


class Dns:
    """A resolver answering from a table, counting the questions it gets."""

    def __init__(self, answers: dict[str, Sequence[str]]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append((host, port))
        if host not in self.answers:
            raise OSError(f"no such host {host}")
        return self.answers[host]


def test_public_host_names_resolve_to_a_target_with_every_address_checked() -> None:
    dns = Dns({"hook.example": ["93.184.216.34", "2606:4700::1111"]})
    target = targets.resolve("https://hook.example:8443/in", frozenset(), dns)
    assert dns.asked == [("hook.example", 8443)]
    assert target.host == "hook.example"
    assert target.port == 8443
    assert [str(a) for a in target.addresses] == ["93.184.216.34", "2606:4700::1111"]
    assert str(target.address) == "93.184.216.34"
    assert targets.resolve("http://hook.example/", (), dns).port == 80
    assert targets.resolve("https://hook.example/", (), dns).port == 443


def test_one_private_address_among_public_ones_refuses_the_host() -> None:
    dns = Dns({"mixed.example": ["93.184.216.34", "10.0.0.5"]})
    with pytest.raises(TargetRefused) as refused:
        targets.resolve("https://mixed.example/", frozenset(), dns)
    assert str(refused.value) == (
        "url host mixed.example resolves to 10.0.0.5, a private address; "
        "allow it with RATIFY_WEBHOOK_ALLOWED_HOSTS"
    )


def test_a_host_that_does_not_resolve_is_refused() -> None:
    dns = Dns({"empty.example": []})
    for url in ("https://nowhere.example/", "https://empty.example/"):
        with pytest.raises(TargetRefused, match="does not resolve"):
            targets.resolve(url, frozenset(), dns)
    with pytest.raises(TargetRefused, match="does not resolve"):
        targets.resolve("https://bad.example/", (), Dns({"bad.example": ["not-an-ip"]}))


def test_host_names_are_compared_without_case_or_trailing_dot() -> None:
    dns = Dns({"hook.test": ["127.0.0.1"], "hook.test.": ["127.0.0.1"]})
    for url in ("http://HOOK.Test/x", "http://hook.test./x", "http://Hook.TEST.:8080/x"):
        assert str(targets.resolve(url, frozenset({"hook.test"}), dns).address) == "127.0.0.1"
        assert str(targets.resolve(url, frozenset({"HOOK.TEST."}), dns).address) == "127.0.0.1"
        with pytest.raises(TargetRefused, match="loopback"):
            targets.resolve(url, frozenset({"other.test"}), dns)


def test_the_allow_list_lets_a_host_through_but_still_pins_its_addresses() -> None:
    dns = Dns({"hook.test": ["10.0.0.7", "10.0.0.8"]})
    target = targets.resolve("http://hook.test:9000/x", frozenset({"hook.test"}), dns)
    assert str(target.address) == "10.0.0.7"
    assert dns.asked == [("hook.test", 9000)]
    # an allow-listed name does not allow another name that resolves the same
    with pytest.raises(TargetRefused, match=re.escape("10.0.0.7, a private address")):
        targets.resolve(
            "http://other.test/x", frozenset({"hook.test"}), Dns({"other.test": ["10.0.0.7"]})
        )


def test_address_literals_are_not_looked_up_and_match_the_allow_list_with_or_without_brackets() -> (
    None
):
    dns = Dns({})
    target = targets.resolve("http://[::1]:8080/x", frozenset({"::1"}), dns)
    assert str(target.address) == "::1"
    assert targets.resolve("http://[::1]/x", frozenset({"[::1]"}), dns).host == "::1"
    assert str(targets.resolve("http://127.0.0.1/x", frozenset({"127.0.0.1"}), dns).address) == (
        "127.0.0.1"
    )
    assert dns.asked == []


def test_international_names_are_looked_up_in_their_idna_form() -> None:
    dns = Dns({"xn--bcher-kva.example": ["93.184.216.34"]})
    target = targets.resolve("https://bücher.example/", frozenset(), dns)
    assert target.host == "xn--bcher-kva.example"
    allowed = Dns({"xn--bcher-kva.example": ["10.0.0.1"]})
    for entry in ("bücher.example", "xn--bcher-kva.example"):
        targets.resolve("https://BÜCHER.example/", frozenset({entry}), allowed)


def test_subscription_checks_skip_the_lookup_for_allow_listed_hosts_only() -> None:
    dns = Dns({"public.example": ["93.184.216.34"], "rebind.example": ["127.0.0.1"]})
    targets.check_url("https://not-yet-in-dns.test/x", frozenset({"not-yet-in-dns.test"}), dns)
    assert dns.asked == []
    targets.check_url("https://public.example/x", frozenset(), dns)
    with pytest.raises(TargetRefused, match=re.escape("resolves to 127.0.0.1, a loopback address")):
        targets.check_url("https://rebind.example/x", frozenset(), dns)
    assert [host for host, _port in dns.asked] == ["public.example", "rebind.example"]
    with pytest.raises(TargetRefused, match="user name or password"):
        targets.check_url("https://u:p@not-yet-in-dns.test/x", frozenset({"not-yet-in-dns.test"}))


@pytest.mark.parametrize(
    "url",
    ["http://127.1/", "http://2130706433/", "http://0x7f.0.0.1/", "http://017700000001/"],
)
def test_shorthand_ipv4_forms_are_judged_by_the_address_the_system_makes_of_them(url: str) -> None:
    # Not address literals to `ipaddress`, so they go to the (real) resolver, which
    # reads them as inet_aton does; the address it gives is the one checked and used.
    with pytest.raises(TargetRefused, match=re.escape("resolves to 127.0.0.1, a loopback address")):
        targets.resolve(url, frozenset({"127.0.0.1"}))
