"""The FIT CRC (CRC-16/ARC) at a speed that does not dominate decoding.

The textbook nibble loop costs about 0.5 s on a 2.4 MB file in CPython. The
CRC register is 16 bits wide and reflected, so a table indexed by the register
XOR the next 16-bit little-endian word advances it by two bytes per lookup.
"""

from __future__ import annotations

import functools
import sys
from array import array

_NIBBLES = (
    0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401,
    0xA001, 0x6C00, 0x7800, 0xB401, 0x5000, 0x9C01, 0x8801, 0x4400,
)  # fmt: skip


def _byte_step(crc: int, byte: int) -> int:
    tmp = _NIBBLES[crc & 0xF]
    crc = ((crc >> 4) & 0x0FFF) ^ tmp ^ _NIBBLES[byte & 0xF]
    tmp = _NIBBLES[crc & 0xF]
    return ((crc >> 4) & 0x0FFF) ^ tmp ^ _NIBBLES[(byte >> 4) & 0xF]


_BYTE_TABLE = tuple(_byte_step(i, 0) for i in range(256))


def _word_entry(x: int) -> int:
    # Feeding the two bytes of x (low first) to a zero register: the table is
    # linear over XOR, so register ^ word indexes it directly.
    crc = _BYTE_TABLE[x & 0xFF]
    return (crc >> 8) ^ _BYTE_TABLE[(crc ^ (x >> 8)) & 0xFF]


@functools.cache
def _word_table() -> list[int]:
    return [_word_entry(x) for x in range(65536)]


def crc16(data: bytes | memoryview, crc: int = 0) -> int:
    n = len(data)
    if n < 64:
        for byte in bytes(data):
            crc = (crc >> 8) ^ _BYTE_TABLE[(crc ^ byte) & 0xFF]
        return crc
    table = _word_table()
    words = array("H")
    words.frombytes(bytes(data[: n - (n & 1)]))
    if sys.byteorder == "big":
        words.byteswap()
    for word in words:
        crc = table[crc ^ word]
    if n & 1:
        crc = (crc >> 8) ^ _BYTE_TABLE[(crc ^ data[n - 1]) & 0xFF]
    return crc
