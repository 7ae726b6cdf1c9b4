"""Which ROS domain (DDS domain id) a graph runs in, so two graphs on one machine stay apart.

Order: `--domain-id`, else the ROS_DOMAIN_ID environment variable, else (simulated graphs) a domain
that no participant uses on this machine, else (a real robot, whose drivers run in the domain the
robot PC uses) the ROS default, 0.

"Free" is tested the way Fast DDS claims a domain: every participant of domain d binds the UDP
ports 7400 + 250 d + 10 + 2 i (metatraffic unicast of its participant id i), and without
ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST also 7400 + 250 d (multicast discovery). If one of them
cannot be bound here, something on this machine uses domain d.
"""
from __future__ import annotations

import argparse
import random
import socket
from collections.abc import Callable, Mapping

MAX_DOMAIN_ID = 101  # ROS 2 on Linux: above 101 the domain's ports reach the ephemeral range
ENV = "ROS_DOMAIN_ID"

# Fast DDS's well-known port formula (RTPS spec defaults): PB + DG * domain + offset + PG * participant.
_PORT_BASE, _DOMAIN_GAIN, _PARTICIPANT_GAIN = 7400, 250, 2
_MULTICAST_OFFSET, _UNICAST_OFFSET = 0, 10
_PARTICIPANTS_PER_DOMAIN = (_DOMAIN_GAIN - _UNICAST_OFFSET) // _PARTICIPANT_GAIN  # ids whose ports stay in the domain's block


def check_domain_id(value: int, source: str) -> int:
    """`value` if it is a valid domain id; a ValueError naming `source` (option or variable) otherwise."""
    if not 0 <= value <= MAX_DOMAIN_ID:
        raise ValueError(f"{source}={value} is not a valid ROS domain id: use 0..{MAX_DOMAIN_ID}")
    return value


def domain_id_option(text: str) -> int:
    """argparse `type` of --domain-id (argparse prefixes the option's name to the message)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer domain id (0..{MAX_DOMAIN_ID})") from None
    if not 0 <= value <= MAX_DOMAIN_ID:
        raise argparse.ArgumentTypeError(f"{value} is not a valid ROS domain id: use 0..{MAX_DOMAIN_ID}")
    return value


def requested_domain_id(option: int | None, environ: Mapping[str, str]) -> int | None:
    """The domain asked for: `option` (--domain-id), else ROS_DOMAIN_ID; None when neither is set."""
    if option is not None:
        return check_domain_id(option, "--domain-id")
    text = environ.get(ENV, "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{ENV}={text!r} is not an integer domain id (0..{MAX_DOMAIN_ID})") from None
    return check_domain_id(value, ENV)


def _port_taken(port: int) -> bool:
    # No SO_REUSEADDR: the bind fails if any socket holds the port, shared (multicast) or not.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return True
    return False


def domain_in_use(domain_id: int, port_taken: Callable[[int], bool] = _port_taken) -> bool:
    """Whether a DDS participant on this machine holds one of domain `domain_id`'s discovery ports."""
    base = _PORT_BASE + _DOMAIN_GAIN * domain_id
    ports = [base + _MULTICAST_OFFSET] + [base + _UNICAST_OFFSET + _PARTICIPANT_GAIN * i
                                          for i in range(_PARTICIPANTS_PER_DOMAIN)]
    return any(port_taken(port) for port in ports)


def free_domain_id(in_use: Callable[[int], bool] | None = None, rng: random.Random | None = None) -> int:
    """A domain in 1..MAX_DOMAIN_ID that nothing on this machine uses, tried in random order so that
    two graphs started at the same moment rarely pick the same one. 0 is left out: it is where every
    ROS program started without ROS_DOMAIN_ID goes."""
    candidates = list(range(1, MAX_DOMAIN_ID + 1))
    (rng or random.SystemRandom()).shuffle(candidates)
    for domain_id in candidates:
        if not (in_use or domain_in_use)(domain_id):
            return domain_id
    raise RuntimeError(f"every ROS domain 1..{MAX_DOMAIN_ID} is in use on this machine; pass --domain-id")


def resolve_domain_id(option: int | None, environ: Mapping[str, str], sim: bool) -> tuple[int, str]:
    """(domain id, where it came from) for a graph about to start."""
    requested = requested_domain_id(option, environ)
    if option is not None:
        return requested, "--domain-id"
    if requested is not None:
        return requested, ENV
    if sim:
        return free_domain_id(), "free on this machine"
    return 0, f"the ROS default; set {ENV} or --domain-id to the robot's domain"
