"""The Python floor of the e2e bench (bench/python.ts): what a Python agent simulator spends per event
at the least, measured in the same run as agentlink.

Per event it does the steps of the wazuh-qa agent simulator's event path (protocol.md 3.1): the
plaintext with its random and counter fields and their MD5 in hex, `zlib.compress` at Python's
default level, the `!` padding to a multiple of 8, a new AES-256-CBC cipher (pycryptodome, the
simulator's library) with PKCS#7 padding, the `!id!#AES:` header, the 4-byte length and one
`socket.send`. It leaves out what that tool adds around it (event generators, a thread per agent
and module, pacing), so its events per CPU second are an upper bound of the tool's: a ratio to it
is a lower bound of agentlink's lead.

Written for this bench from protocol.md; it shares no code with wazuh-qa.

Usage:
  python3 python-floor.py check
      prints the AES module found, or exits 3 with the reason.
  python3 python-floor.py frame AES_KEY AGENT_ID PLAINTEXT
      prints one TCP frame in hex (the bench decodes it with agentlink's codec first).
  python3 python-floor.py run AES_KEY AGENT_ID PLAINTEXT PORT SOCKETS SECONDS
      sends frames round-robin on SOCKETS connections to 127.0.0.1:PORT for SECONDS, then prints
      one JSON line: {"events": N, "cpu": S} (S: this process's CPU seconds, user + system, while sending).
"""
import hashlib
import json
import socket
import struct
import sys
import time
import zlib

try:
    from Crypto.Cipher import AES
except ImportError:
    try:
        from Cryptodome.Cipher import AES  # Debian's python3-pycryptodome
    except ImportError:
        AES = None

IV = b'FEDCBA0987654321'


def frame(aes_key, header, plaintext, global_counter, local_counter):
    """One TCP frame of an event, built the way the simulator builds it."""
    block = b'%05d%010d:%04d:' % (55555, global_counter, local_counter) + plaintext
    event = hashlib.md5(block).hexdigest().encode() + block
    compressed = zlib.compress(event)
    bangs = 8 - len(compressed) % 8
    padded = b'!' * bangs + compressed
    pkcs = 16 - len(padded) % 16
    body = header + AES.new(aes_key, AES.MODE_CBC, IV).encrypt(padded + bytes([pkcs]) * pkcs)
    return struct.pack('<I', len(body)) + body


def main(argv):
    if AES is None:
        print('no pycryptodome: neither Crypto nor Cryptodome imports', file=sys.stderr)
        return 3
    cmd = argv[1] if len(argv) > 1 else ''
    if cmd == 'check':
        print(AES.__name__)
        return 0
    aes_key = argv[2].encode('latin1')
    header = ('!%s!#AES:' % argv[3]).encode('latin1')
    plaintext = argv[4].encode('utf8')
    if cmd == 'frame':
        print(frame(aes_key, header, plaintext, 1, 1).hex())
        return 0
    if cmd != 'run':
        print('unknown command %r' % cmd, file=sys.stderr)
        return 2
    port, count, seconds = int(argv[5]), int(argv[6]), float(argv[7])
    socks = [socket.create_connection(('127.0.0.1', port)) for _ in range(count)]
    events = 0
    local = 0
    cpu0 = time.process_time()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for s in socks:
            local = local + 1 if local < 9997 else 1
            s.send(frame(aes_key, header, plaintext, 1, local))
            events += 1
    cpu = time.process_time() - cpu0
    for s in socks:
        s.close()
    print(json.dumps({'events': events, 'cpu': cpu}))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
