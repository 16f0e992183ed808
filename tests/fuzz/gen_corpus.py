#!/usr/bin/env python3
"""Writes the seed corpus (tests/fuzz/corpus/) for the op interpreter in
harness.c: a handful of small inputs, each exercising one operation on a
sensible path.  The fuzzer mutates them from there.  Run from the source
tree's root; the files are committed, this script is how they were made."""
import os
import struct

# file table indices (harness.c enum)
F_REG, F_DIRECT, F_DISK, F_RDONLY, F_PIPE_R, F_PIPE_W, F_PIPE_RNB, F_PIPE_WNB, \
    F_SOCK_A, F_SOCK_B, F_EFD, F_EFD_NB, F_DIR, F_CLOSED, F_MINUS1, F_RAW = range(16)
# pick_opcode() bytes
PREAD, PWRITE, FSYNC, FDSYNC, POLL, PREADV, PWRITEV = 0, 1, 4, 5, 7, 10, 11
OPCODE = {PREAD: 0, PWRITE: 1, FSYNC: 2, FDSYNC: 3, POLL: 5, PREADV: 7, PWRITEV: 8}


def u16(v):
    return list(struct.pack('<H', v))


def setup(ci, nr_byte=7, m=0):
    # nr_byte % 8 in (6, 7): nr = 1 + nr_byte % 64
    return [0, ci, nr_byte, m]


def buf(off_sel=1, length=4096):
    # chunk at offset 0 (off_sel 1) or 512*off_sel; length via pick_len default
    return [off_sel, 4] + u16(length)


def iocb(op, fd, f=0, resfd=F_MINUS1, rwf=0, offset_byte=4, extra=()):
    b = [f, op, fd, resfd] + u16(0) + [rwf, offset_byte]
    code = OPCODE[op]
    if code in (0, 1):
        b += buf()
    elif code in (7, 8):
        b += [2] + buf() + buf(2, 100)      # 1 + 2 % 5 = 3 iovecs
        b += buf(3, 10)
    elif code == 5:
        b += [0] + u16(1)                   # POLLIN
    else:
        b += [0]                            # FSYNC: no buffer
    return b + list(extra)


def submit(ci, cbs, m=None):
    return [1, ci, len(cbs) if m is None else m] + sum(cbs, [])


def nr_byte(nr):
    # getevents' nr selector: b % 8 >= 3 reads as nr = b % 12
    return next(b for b in range(256) if b % 8 >= 3 and b % 12 == nr)


def getevents(ci, nr=8, m=2):
    # m 2: timeout from u16 * 16 ns; min sel 2: min = nr
    return [4, ci, m, nr_byte(nr), 2] + u16(62500)


def getevents_any(ci):
    return [4, ci, 2, nr_byte(8), 3, 0] + u16(62500)   # min 0, up to 8, 1 ms


def cancel(ci, k=0):
    return [6, ci, 0, k]


def destroy(ci):
    return [7, ci]


def stream(k, n=4):
    return [8, k, n]


def reap(ci, n=8):
    return [9, ci, n]


seeds = {
    'setup_destroy': setup(0) + setup(1, 0x3f) + destroy(0) + destroy(1) + destroy(1),
    'setup_quota': setup(0, 1) + setup(1, 2) + setup(2, 0) + setup(3, 5, 1),
    'rw_file': setup(0) + submit(0, [iocb(PWRITE, F_REG), iocb(PREAD, F_REG)]) +
               getevents(0, 2) + destroy(0),
    'rw_direct': setup(0) + submit(0, [iocb(PWRITE, F_DIRECT), iocb(PREAD, F_DIRECT),
                                      iocb(PREAD, F_DISK)]) + getevents_any(0) + getevents_any(0),
    'vectors': setup(0) + submit(0, [iocb(PWRITEV, F_REG), iocb(PREADV, F_REG)]) + getevents(0, 2),
    'sync': setup(0) + submit(0, [iocb(FSYNC, F_DISK), iocb(FDSYNC, F_REG), iocb(FSYNC, F_PIPE_R)]) +
            getevents_any(0) + getevents_any(0),
    'pipe': setup(0) + submit(0, [iocb(PREAD, F_PIPE_R)]) + stream(0) + getevents_any(0) +
            submit(0, [iocb(PWRITE, F_PIPE_W)]) + stream(1, 255) + getevents_any(0),
    'socket_poll': setup(1) + submit(1, [iocb(POLL, F_SOCK_A), iocb(PREAD, F_SOCK_B)]) +
                   stream(3) + stream(2) + getevents_any(1) + cancel(1) + getevents_any(1),
    'cancel_pending': setup(0) + submit(0, [iocb(PREAD, F_PIPE_R), iocb(POLL, F_EFD)]) +
                      cancel(0, 0) + cancel(0, 1) + cancel(0, 0) + getevents_any(0),
    'eventfd': setup(2) + submit(2, [iocb(PREAD, F_REG, f=8, resfd=F_EFD_NB),
                                     iocb(PREAD, F_EFD, f=8, resfd=F_EFD)]) +
               stream(6) + stream(8) + getevents_any(2) + stream(7),
    'ring_reap': setup(0) + submit(0, [iocb(PREAD, F_REG), iocb(PWRITE, F_REG),
                                       iocb(POLL, F_DIR)]) + reap(0) + reap(0),
    'destroy_pending': setup(0) + setup(1) + submit(0, [iocb(PREAD, F_PIPE_R)]) +
                       submit(1, [iocb(PWRITE, F_SOCK_A)]) + destroy(0) + getevents_any(0) +
                       submit(0, [iocb(PREAD, F_REG)]) + destroy(1),
    'bad_fds': setup(0) + submit(0, [iocb(PREAD, F_CLOSED)]) + submit(0, [iocb(PREAD, F_MINUS1)]) +
               submit(0, [iocb(PWRITE, F_RDONLY)]) + submit(0, [iocb(PREAD, F_DIR)]),
    'bad_pointers': setup(0) + submit(0, [], m=0xe2) + [0] + submit(0, [iocb(PREAD, F_REG)], m=0xe1) +
                    [0] + [4, 0, 0x65, nr_byte(8), 3, 0, 1] + [6, 0, 7],
}

os.makedirs('tests/fuzz/corpus', exist_ok=True)
for name, b in seeds.items():
    with open(os.path.join('tests/fuzz/corpus', name), 'wb') as f:
        f.write(bytes(b))
