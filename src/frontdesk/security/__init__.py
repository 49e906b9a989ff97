"""Cryptographic building blocks: key derivation, digests, random secrets, passwords."""
