"""The address rule of the SSRF guard: every special range is refused, public ones pass."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activitypub_kit.errors import AddressRefusedError
from activitypub_kit.http import AddressPolicy, refusal_reason

#: (address, a word the reason must contain) for every range H-30/H-31 lists, and more.
REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"),
    ("10.0.0.5", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.254", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"),
    ("100.64.0.1", "CGNAT"),
    ("100.127.255.254", "CGNAT"),
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("198.18.0.1", "benchmarking"),
    ("198.19.255.1", "benchmarking"),
    ("192.0.2.10", "documentation"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("192.0.0.8", "IETF"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("fc00::1", "unique-local"),
    ("fd12:3456::1", "unique-local"),
    ("fe80::1", "link-local"),
    ("fec0::1", "site-local"),
    ("ff02::1", "multicast"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation"),
    ("100::1", "discard"),
    ("::ffff:127.0.0.1", "IPv4-mapped"),
    ("::ffff:10.1.2.3", "IPv4-mapped"),
    ("::ffff:169.254.169.254", "IPv4-mapped"),
    ("64:ff9b::7f00:1", "NAT64"),
    ("64:ff9b::a00:1", "NAT64"),
    ("64:ff9b:1::1", "local-use NAT64"),
    ("2002:7f00:1::", "6to4"),
    ("2002:c0a8:101::1", "6to4"),
    ("2001:0:7f00:1::1", "Teredo"),  # Teredo server 127.0.0.1
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "Teredo"),  # client ~ = 10.0.0.1
    ("2001:2::1", "IETF"),
    ("::127.0.0.1", "global unicast"),  # deprecated IPv4-compatible
    ("5f00::1", "global unicast"),
]

PUBLIC = [
    "93.184.215.14",
    "1.1.1.1",
    "8.8.8.8",
    "2606:4700:4700::1111",
    "2a01:4f8::1",
    "::ffff:93.184.215.14",  # mapped form of a public address
    "64:ff9b::5db8:d70e",  # NAT64 of a public address
    "2002:5db8:d70e::1",  # 6to4 of a public address
]


@pytest.mark.parametrize(("address", "word"), REFUSED)
def test_special_addresses_are_refused_with_their_range(address: str, word: str) -> None:
    reason = refusal_reason(ipaddress.ip_address(address))
    assert reason is not None
    assert word.lower() in reason.lower()


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None


def test_policy_error_names_host_address_and_range() -> None:
    with pytest.raises(AddressRefusedError) as caught:
        AddressPolicy().check("evil.test", ipaddress.ip_address("10.0.0.5"))
    message = str(caught.value)
    assert "evil.test" in message
    assert "10.0.0.5" in message
    assert "10.0.0.0/8" in message
    assert "\n" not in message


def test_allow_list_is_off_by_default_and_explicit() -> None:
    loopback = ipaddress.ip_address("127.0.0.1")
    assert AddressPolicy().reason(loopback) is not None
    policy = AddressPolicy.allowing(["127.0.0.0/8"])
    assert policy.reason(loopback) is None
    # The allow-list opens exactly what it names, nothing else.
    assert policy.reason(ipaddress.ip_address("10.0.0.1")) is not None
    assert policy.reason(ipaddress.ip_address("::1")) is not None


@given(st.ip_addresses(v=4))
def test_every_ipv4_we_accept_is_globally_reachable(address: ipaddress.IPv4Address) -> None:
    # We may be stricter than the standard library's table, never looser.
    if refusal_reason(address) is None:
        assert address.is_global


@given(st.ip_addresses(v=6))
def test_every_plain_ipv6_we_accept_is_global_unicast(address: ipaddress.IPv6Address) -> None:
    if refusal_reason(address) is None:
        assert (
            address in ipaddress.ip_network("2000::/3")
            or address.ipv4_mapped is not None
            or (address in ipaddress.ip_network("64:ff9b::/96"))
        )


@given(st.ip_addresses(v=4))
def test_embedded_forms_follow_the_embedded_ipv4(address: ipaddress.IPv4Address) -> None:
    refused = refusal_reason(address) is not None
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    nat64 = ipaddress.IPv6Address((0x64FF9B << 96) | int(address))
    sixtofour = ipaddress.IPv6Address((0x2002 << 112) | (int(address) << 80) | 1)
    for form in (mapped, nat64, sixtofour):
        assert (refusal_reason(form) is not None) == refused
