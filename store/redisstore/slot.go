package redisstore

// slotCount is the number of hash slots of a Redis Cluster.
const slotCount = 16384

// crc16tab is the CRC-16/XMODEM table (polynomial 0x1021), the checksum
// Redis Cluster uses to map keys to slots.
var crc16tab = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for j := 0; j < 8; j++ {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// Slot returns the Redis Cluster hash slot of key (0 to 16383), honouring
// hash tags: when key contains "{...}" with at least one byte between the
// first "{" and the next "}", only those bytes are hashed, so that
// "{user1}:a" and "{user1}:b" share a slot.
func Slot(key string) int {
	for i := 0; i < len(key); i++ {
		if key[i] == '{' {
			for j := i + 1; j < len(key); j++ {
				if key[j] == '}' {
					if j > i+1 {
						key = key[i+1 : j]
					}
					break
				}
			}
			break
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc = crc<<8 ^ crc16tab[byte(crc>>8)^key[i]]
	}
	return int(crc % slotCount)
}
