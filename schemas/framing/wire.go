package framing

import "encoding/binary"

// wireMagic is the first byte of every Confluent wire-format message.
const wireMagic = 0

// WireHeaderLen is the length of the magic byte plus the schema id.
const WireHeaderLen = 5

// ParseWire splits a Confluent wire-format message into its schema id and
// Avro binary datum (which aliases msg).
func ParseWire(msg []byte) (id int, datum []byte, err error) {
	if len(msg) < WireHeaderLen {
		return 0, nil, newErr("wire", ErrTruncated, nil, "%d bytes, need at least %d", len(msg), WireHeaderLen)
	}
	if msg[0] != wireMagic {
		return 0, nil, newErr("wire", ErrBadMagic, nil, "got 0x%02x, want 0x00", msg[0])
	}
	return int(binary.BigEndian.Uint32(msg[1:5])), msg[5:], nil
}

// AppendWire appends a Confluent wire-format message to dst.
func AppendWire(dst []byte, id int, datum []byte) []byte {
	dst = append(dst, wireMagic)
	dst = binary.BigEndian.AppendUint32(dst, uint32(id))
	return append(dst, datum...)
}
