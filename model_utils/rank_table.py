"""HCCL rank tables: how many ranks a job has and which of them run on this host.

A rank table (``hccl_tools.py`` writes one) is JSON::

    {"version": "1.0", "server_count": "1", "status": "completed",
     "server_list": [{"server_id": "10.0.0.1",
                      "device": [{"device_id": "0", "device_ip": "192.1.1.1", "rank_id": "0"}, ...]}]}

``python -m model_utils.rank_table FILE`` prints ``RANK_SIZE`` then one ``rank_id device_id``
line per local device (what ``scripts/run_distributed_train.sh`` launches).
"""
import json
import socket
import sys


class RankTableError(ValueError):
    """The rank table is missing or malformed."""


def read_rank_table(path):
    """Returns (rank_size, {server_id: [(rank_id, device_id), ...]})."""
    try:
        with open(path, encoding="utf-8") as handle:
            table = json.load(handle)
    except (OSError, ValueError) as err:
        raise RankTableError(f"rank table {path}: cannot read JSON ({err})") from err
    servers = {}
    try:
        for server in table["server_list"]:
            servers[str(server["server_id"])] = [(int(d["rank_id"]), int(d["device_id"])) for d in server["device"]]
    except (KeyError, TypeError, ValueError) as err:
        raise RankTableError(f"rank table {path}: expected server_list[].server_id and device[].rank_id/device_id "
                             f"({type(err).__name__}: {err})") from err
    ranks = sorted(r for devices in servers.values() for r, _ in devices)
    if not ranks or ranks != list(range(len(ranks))):
        raise RankTableError(f"rank table {path}: rank ids must be 0..N-1, got {ranks}")
    return len(ranks), servers


def local_devices(servers, host_ips=None):
    """The (rank_id, device_id) pairs of this host: the server whose id is one of its addresses,
    or the only server of a one-server table."""
    if len(servers) == 1:
        return next(iter(servers.values()))
    ips = set(host_ips if host_ips is not None else _host_addresses())
    for server_id, devices in servers.items():
        if server_id in ips:
            return devices
    raise RankTableError(f"none of the rank table's servers {sorted(servers)} is this host ({sorted(ips)})")


def _host_addresses():
    names = {socket.gethostname(), socket.getfqdn()}
    addresses = set(names)
    for name in names:
        try:
            addresses.update(info[4][0] for info in socket.getaddrinfo(name, None))
        except OSError:
            pass
    return addresses


def main(argv):
    if len(argv) != 1:
        sys.stderr.write("usage: python -m model_utils.rank_table RANK_TABLE_FILE\n")
        return 2
    try:
        size, servers = read_rank_table(argv[0])
        devices = local_devices(servers)
    except RankTableError as err:
        sys.stderr.write(f"error: {err}\n")
        return 2
    sys.stdout.write(f"{size}\n" + "".join(f"{r} {d}\n" for r, d in devices))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
