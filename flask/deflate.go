package flask

import (
	"encoding/binary"
	"hash/adler32"
	"sync"
)

// This file holds a DEFLATE encoder whose output is byte for byte the output
// of C zlib's compress() at its default level (6, window 32 KiB, memLevel 8,
// default strategy), which is what Python's zlib.compress, and so
// itsdangerous, produces. Go's compress/flate makes valid streams too, but
// different ones: itsdangerous compresses a payload only when that makes it
// at least two bytes shorter, so matching Flask's cookies exactly, and even
// deciding whether to compress, needs zlib's own choices. The encoder follows
// zlib's algorithm step by step (lazy matching with hash chains, the "too
// far" rule for short matches, block sizes, Huffman tree construction with
// its tie-breaking and length limiting, and the choice between stored, fixed
// and dynamic blocks); it was written from the DEFLATE specification (RFC
// 1951) and zlib's documented behaviour and is checked against vectors made
// by Python's zlib in testdata/zlib.json.

const (
	zWSize        = 1 << 15
	zWMask        = zWSize - 1
	zHashSize     = 1 << 15
	zHashMask     = zHashSize - 1
	zMinMatch     = 3
	zMaxMatch     = 258
	zMinLookahead = zMaxMatch + zMinMatch + 1
	zMaxDist      = zWSize - zMinLookahead
	zTooFar       = 4096

	// Level 6 parameters.
	zGoodLength = 8
	zMaxLazy    = 16
	zNiceLength = 128
	zMaxChain   = 128

	// memLevel 8 gives 16 Ki symbols per block buffer; a block is flushed
	// when it holds one fewer.
	zLitBufSize = 1 << 14
	zSymEnd     = zLitBufSize - 1

	zLiterals  = 256
	zEndBlock  = 256
	zLCodes    = zLiterals + 1 + 29
	zDCodes    = 30
	zBLCodes   = 19
	zHeapSize  = 2*zLCodes + 1
	zMaxBits   = 15
	zMaxBLBits = 7
	zRep3to6   = 16
	zRepZ3to10 = 17
	zRepZ11    = 18
)

var (
	zExtraLBits  = [29]int{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	zExtraDBits  = [30]int{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	zExtraBLBits = [19]int{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 7}
	zBLOrder     = [19]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

	zBaseLength [29]int
	zBaseDist   [30]int
	zLengthCode [256]uint8 // match length - 3 -> length code
	zDistCode   [512]uint8 // distance - 1 -> distance code, see zDCode

	zStaticL [zLCodes + 2]zNode
	zStaticD [zDCodes]zNode

	zStaticLDesc  = zStaticDesc{tree: zStaticL[:], extra: zExtraLBits[:], base: zLiterals + 1, elems: zLCodes, maxLength: zMaxBits}
	zStaticDDesc  = zStaticDesc{tree: zStaticD[:], extra: zExtraDBits[:], base: 0, elems: zDCodes, maxLength: zMaxBits}
	zStaticBLDesc = zStaticDesc{tree: nil, extra: zExtraBLBits[:], base: 0, elems: zBLCodes, maxLength: zMaxBLBits}
)

func init() {
	length := 0
	for code := 0; code < 28; code++ {
		zBaseLength[code] = length
		for n := 0; n < 1<<zExtraLBits[code]; n++ {
			zLengthCode[length] = uint8(code)
			length++
		}
	}
	// Length 258 has its own code (285) although 284 could express it.
	zLengthCode[length-1] = 28
	zBaseLength[28] = 255

	dist := 0
	for code := 0; code < 16; code++ {
		zBaseDist[code] = dist
		for n := 0; n < 1<<zExtraDBits[code]; n++ {
			zDistCode[dist] = uint8(code)
			dist++
		}
	}
	dist >>= 7
	for code := 16; code < zDCodes; code++ {
		zBaseDist[code] = dist << 7
		for n := 0; n < 1<<(zExtraDBits[code]-7); n++ {
			zDistCode[256+dist] = uint8(code)
			dist++
		}
	}

	var count [zMaxBits + 1]int
	for n := 0; n <= 143; n++ {
		zStaticL[n].len = 8
	}
	for n := 144; n <= 255; n++ {
		zStaticL[n].len = 9
	}
	for n := 256; n <= 279; n++ {
		zStaticL[n].len = 7
	}
	for n := 280; n <= 287; n++ {
		zStaticL[n].len = 8
	}
	for n := range zStaticL {
		count[zStaticL[n].len]++
	}
	zGenCodes(zStaticL[:], zLCodes+1, &count)
	for n := range zStaticD {
		zStaticD[n].len = 5
		zStaticD[n].code = uint16(zReverse(n, 5))
	}
}

// zDCode maps a distance minus one to its distance code.
func zDCode(d int) int {
	if d < 256 {
		return int(zDistCode[d])
	}
	return int(zDistCode[256+(d>>7)])
}

func zReverse(code, n int) int {
	r := 0
	for ; n > 0; n-- {
		r = r<<1 | code&1
		code >>= 1
	}
	return r
}

// zNode is one node of a Huffman tree: a leaf (symbol) or an internal node.
type zNode struct {
	freq uint32
	code uint16
	dad  uint16
	len  uint16
}

type zStaticDesc struct {
	tree      []zNode
	extra     []int
	base      int
	elems     int
	maxLength int
}

type zTreeDesc struct {
	dyn     []zNode
	maxCode int
	stat    *zStaticDesc
}

type zSym struct {
	dist uint16 // 0 for a literal
	lc   uint8  // literal byte, or match length - 3
}

// zState is the compressor state. Positions are absolute offsets into in;
// offset is the absolute position of zlib's window[0], which moves by 32 KiB
// each time zlib slides its window. A hash entry p is usable only when
// p > offset, exactly as zlib treats window position 0 as "no match".
type zState struct {
	in     []byte
	offset int
	avail  int // end of the input zlib has read into its window

	strstart       int
	blockStart     int
	matchStart     int
	prevMatch      int
	matchLength    int
	prevLength     int
	matchAvailable bool

	head [zHashSize]int32
	prev [zWSize]int32

	syms []zSym

	dynL                 [zHeapSize]zNode
	dynD                 [2*zDCodes + 1]zNode
	bl                   [2*zBLCodes + 1]zNode
	lDesc, dDesc, blDesc zTreeDesc

	heap    [zHeapSize]int
	heapLen int
	heapMax int
	depth   [zHeapSize]uint8
	blCount [zMaxBits + 1]int

	optLen, staticLen int

	out    []byte
	bitBuf uint64
	bitCnt uint
}

var zPool = sync.Pool{New: func() any { return new(zState) }}

// zlibCompress returns what zlib's compress(data) (level 6) returns.
func zlibCompress(data []byte) []byte {
	z := zPool.Get().(*zState)
	defer zPool.Put(z)
	z.reset(data)
	z.out = append(z.out, 0x78, 0x9c)
	z.deflateSlow()
	z.out = binary.BigEndian.AppendUint32(z.out, adler32.Checksum(data))
	out := z.out
	z.out = nil
	z.in = nil
	return out
}

func (z *zState) reset(data []byte) {
	z.in = data
	z.offset, z.avail = 0, 0
	z.strstart, z.blockStart = 0, 0
	z.matchStart, z.prevMatch = 0, 0
	z.matchLength, z.prevLength = zMinMatch-1, zMinMatch-1
	z.matchAvailable = false
	clear(z.head[:])
	clear(z.prev[:])
	z.syms = z.syms[:0]
	z.lDesc = zTreeDesc{dyn: z.dynL[:], stat: &zStaticLDesc}
	z.dDesc = zTreeDesc{dyn: z.dynD[:], stat: &zStaticDDesc}
	z.blDesc = zTreeDesc{dyn: z.bl[:], stat: &zStaticBLDesc}
	z.out = make([]byte, 0, len(data)/2+64)
	z.bitBuf, z.bitCnt = 0, 0
	z.initBlock()
}

func (z *zState) lookahead() int { return z.avail - z.strstart }

// fillWindow reads input the way zlib's fill_window does: up to the end of
// its 64 KiB window, sliding the window by 32 KiB when the current position
// has passed the point where matches could still reach the lower half.
func (z *zState) fillWindow() {
	for {
		more := z.offset + 2*zWSize - z.avail
		if z.strstart-z.offset >= zWSize+zMaxDist {
			z.offset += zWSize
			more += zWSize
		}
		if z.avail == len(z.in) {
			return
		}
		n := min(more, len(z.in)-z.avail)
		z.avail += n
		if z.lookahead() >= zMinLookahead || z.avail == len(z.in) {
			return
		}
	}
}

func (z *zState) hash(p int) int {
	return (int(z.in[p])<<10 ^ int(z.in[p+1])<<5 ^ int(z.in[p+2])) & zHashMask
}

// insert records position p in its hash chain and returns the previous head.
func (z *zState) insert(p int) int {
	h := z.hash(p)
	old := z.head[h]
	z.prev[p&zWMask] = old
	z.head[h] = int32(p)
	return int(old)
}

func (z *zState) longestMatch(cur int) int {
	chain := zMaxChain
	s := z.strstart
	best := z.prevLength
	nice := zNiceLength
	limit := 0
	if s-z.offset > zMaxDist {
		limit = s - z.offset - zMaxDist
	}
	if z.prevLength >= zGoodLength {
		chain >>= 2
	}
	look := z.lookahead()
	if nice > look {
		nice = look
	}
	maxLen := min(zMaxMatch, look)
	in := z.in
	for {
		n := 0
		for n < maxLen && in[cur+n] == in[s+n] {
			n++
		}
		if n > best {
			z.matchStart = cur
			best = n
			if n >= nice {
				break
			}
		}
		cur = int(z.prev[cur&zWMask])
		if cur-z.offset <= limit {
			break
		}
		chain--
		if chain == 0 {
			break
		}
	}
	if best <= look {
		return best
	}
	return look
}

func (z *zState) deflateSlow() {
	for {
		if z.lookahead() < zMinLookahead {
			z.fillWindow()
			if z.lookahead() == 0 {
				break
			}
		}
		look := z.lookahead()
		hashHead := -1
		if look >= zMinMatch {
			hashHead = z.insert(z.strstart)
		}
		z.prevLength, z.prevMatch = z.matchLength, z.matchStart
		z.matchLength = zMinMatch - 1
		if hashHead > z.offset && z.prevLength < zMaxLazy && z.strstart-hashHead <= zMaxDist {
			z.matchLength = z.longestMatch(hashHead)
			if z.matchLength == zMinMatch && z.strstart-z.matchStart > zTooFar {
				z.matchLength = zMinMatch - 1
			}
		}
		switch {
		case z.prevLength >= zMinMatch && z.matchLength <= z.prevLength:
			maxInsert := z.strstart + look - zMinMatch
			flush := z.tallyDist(z.strstart-1-z.prevMatch, z.prevLength-zMinMatch)
			for n := z.prevLength - 2; n > 0; n-- {
				z.strstart++
				if z.strstart <= maxInsert {
					z.insert(z.strstart)
				}
			}
			z.matchAvailable = false
			z.matchLength = zMinMatch - 1
			z.strstart++
			if flush {
				z.flushBlock(false)
			}
		case z.matchAvailable:
			if z.tallyLit(z.in[z.strstart-1]) {
				z.flushBlock(false)
			}
			z.strstart++
		default:
			z.matchAvailable = true
			z.strstart++
		}
	}
	if z.matchAvailable {
		z.tallyLit(z.in[z.strstart-1])
		z.matchAvailable = false
	}
	z.flushBlock(true)
}

func (z *zState) tallyLit(c byte) bool {
	z.syms = append(z.syms, zSym{lc: c})
	z.dynL[c].freq++
	return len(z.syms) == zSymEnd
}

func (z *zState) tallyDist(dist, lc int) bool {
	z.syms = append(z.syms, zSym{dist: uint16(dist), lc: uint8(lc)})
	z.dynL[int(zLengthCode[lc])+zLiterals+1].freq++
	z.dynD[zDCode(dist-1)].freq++
	return len(z.syms) == zSymEnd
}

func (z *zState) initBlock() {
	for n := 0; n < zLCodes; n++ {
		z.dynL[n].freq = 0
	}
	for n := 0; n < zDCodes; n++ {
		z.dynD[n].freq = 0
	}
	for n := 0; n < zBLCodes; n++ {
		z.bl[n].freq = 0
	}
	z.dynL[zEndBlock].freq = 1
	z.optLen, z.staticLen = 0, 0
	z.syms = z.syms[:0]
}

func (z *zState) flushBlock(last bool) {
	var buf []byte
	if z.blockStart >= z.offset {
		buf = z.in[z.blockStart:z.strstart]
	}
	z.trFlushBlock(buf, z.blockStart >= z.offset, z.strstart-z.blockStart, last)
	z.blockStart = z.strstart
}

// ---- bit output

func (z *zState) sendBits(value, length int) {
	z.bitBuf |= uint64(value) << z.bitCnt
	z.bitCnt += uint(length)
	for z.bitCnt >= 8 {
		z.out = append(z.out, byte(z.bitBuf))
		z.bitBuf >>= 8
		z.bitCnt -= 8
	}
}

func (z *zState) sendCode(c int, tree []zNode) { z.sendBits(int(tree[c].code), int(tree[c].len)) }

func (z *zState) windup() {
	if z.bitCnt > 0 {
		z.out = append(z.out, byte(z.bitBuf))
	}
	z.bitBuf, z.bitCnt = 0, 0
}

// ---- Huffman trees

func (z *zState) smaller(tree []zNode, n, m int) bool {
	return tree[n].freq < tree[m].freq || (tree[n].freq == tree[m].freq && z.depth[n] <= z.depth[m])
}

func (z *zState) downHeap(tree []zNode, k int) {
	v := z.heap[k]
	j := k << 1
	for j <= z.heapLen {
		if j < z.heapLen && z.smaller(tree, z.heap[j+1], z.heap[j]) {
			j++
		}
		if z.smaller(tree, v, z.heap[j]) {
			break
		}
		z.heap[k] = z.heap[j]
		k = j
		j <<= 1
	}
	z.heap[k] = v
}

func (z *zState) buildTree(desc *zTreeDesc) {
	tree := desc.dyn
	stree := desc.stat.tree
	elems := desc.stat.elems
	maxCode := -1
	z.heapLen, z.heapMax = 0, zHeapSize
	for n := 0; n < elems; n++ {
		if tree[n].freq != 0 {
			z.heapLen++
			z.heap[z.heapLen] = n
			maxCode = n
			z.depth[n] = 0
		} else {
			tree[n].len = 0
		}
	}
	// The format needs at least one distance code, and two codes make a
	// tree; zlib adds dummy codes of frequency 1.
	for z.heapLen < 2 {
		node := 0
		if maxCode < 2 {
			maxCode++
			node = maxCode
		}
		z.heapLen++
		z.heap[z.heapLen] = node
		tree[node].freq = 1
		z.depth[node] = 0
		z.optLen--
		if stree != nil {
			z.staticLen -= int(stree[node].len)
		}
	}
	desc.maxCode = maxCode
	for n := z.heapLen / 2; n >= 1; n-- {
		z.downHeap(tree, n)
	}
	node := elems
	for {
		n := z.heap[1]
		z.heap[1] = z.heap[z.heapLen]
		z.heapLen--
		z.downHeap(tree, 1)
		m := z.heap[1]
		z.heapMax--
		z.heap[z.heapMax] = n
		z.heapMax--
		z.heap[z.heapMax] = m
		tree[node].freq = tree[n].freq + tree[m].freq
		z.depth[node] = max(z.depth[n], z.depth[m]) + 1
		tree[n].dad, tree[m].dad = uint16(node), uint16(node)
		z.heap[1] = node
		node++
		z.downHeap(tree, 1)
		if z.heapLen < 2 {
			break
		}
	}
	z.heapMax--
	z.heap[z.heapMax] = z.heap[1]
	z.genBitLen(desc)
	zGenCodes(tree, maxCode, &z.blCount)
}

// genBitLen computes code lengths from the tree, limiting them to the
// format's maximum the way zlib does, and adds the block's cost to optLen
// and staticLen.
func (z *zState) genBitLen(desc *zTreeDesc) {
	tree := desc.dyn
	maxCode := desc.maxCode
	stree := desc.stat.tree
	extra := desc.stat.extra
	base := desc.stat.base
	maxLength := desc.stat.maxLength
	overflow := 0
	clear(z.blCount[:])
	tree[z.heap[z.heapMax]].len = 0
	h := z.heapMax + 1
	for ; h < zHeapSize; h++ {
		n := z.heap[h]
		bits := int(tree[tree[n].dad].len) + 1
		if bits > maxLength {
			bits = maxLength
			overflow++
		}
		tree[n].len = uint16(bits)
		if n > maxCode {
			continue
		}
		z.blCount[bits]++
		xbits := 0
		if n >= base {
			xbits = extra[n-base]
		}
		f := int(tree[n].freq)
		z.optLen += f * (bits + xbits)
		if stree != nil {
			z.staticLen += f * (int(stree[n].len) + xbits)
		}
	}
	if overflow == 0 {
		return
	}
	for overflow > 0 {
		bits := maxLength - 1
		for z.blCount[bits] == 0 {
			bits--
		}
		z.blCount[bits]--
		z.blCount[bits+1] += 2
		z.blCount[maxLength]--
		overflow -= 2
	}
	for bits := maxLength; bits != 0; bits-- {
		n := z.blCount[bits]
		for n != 0 {
			h--
			m := z.heap[h]
			if m > maxCode {
				continue
			}
			if int(tree[m].len) != bits {
				z.optLen += (bits - int(tree[m].len)) * int(tree[m].freq)
				tree[m].len = uint16(bits)
			}
			n--
		}
	}
}

func zGenCodes(tree []zNode, maxCode int, blCount *[zMaxBits + 1]int) {
	var next [zMaxBits + 1]int
	code := 0
	for bits := 1; bits <= zMaxBits; bits++ {
		code = (code + blCount[bits-1]) << 1
		next[bits] = code
	}
	for n := 0; n <= maxCode; n++ {
		l := int(tree[n].len)
		if l == 0 {
			continue
		}
		tree[n].code = uint16(zReverse(next[l], l))
		next[l]++
	}
}

// lenAt returns the code length of symbol n, with zlib's guard value just
// past maxCode.
func lenAt(tree []zNode, n, maxCode int) int {
	if n == maxCode+1 {
		return 0xffff
	}
	return int(tree[n].len)
}

func (z *zState) scanTree(tree []zNode, maxCode int, send bool) {
	prevLen := -1
	nextLen := int(tree[0].len)
	count := 0
	maxCount, minCount := 7, 4
	if nextLen == 0 {
		maxCount, minCount = 138, 3
	}
	for n := 0; n <= maxCode; n++ {
		curLen := nextLen
		nextLen = lenAt(tree, n+1, maxCode)
		count++
		if count < maxCount && curLen == nextLen {
			continue
		}
		switch {
		case count < minCount:
			if send {
				for ; count > 0; count-- {
					z.sendCode(curLen, z.bl[:])
				}
			} else {
				z.bl[curLen].freq += uint32(count)
			}
		case curLen != 0:
			if send {
				if curLen != prevLen {
					z.sendCode(curLen, z.bl[:])
					count--
				}
				z.sendCode(zRep3to6, z.bl[:])
				z.sendBits(count-3, 2)
			} else {
				if curLen != prevLen {
					z.bl[curLen].freq++
				}
				z.bl[zRep3to6].freq++
			}
		case count <= 10:
			if send {
				z.sendCode(zRepZ3to10, z.bl[:])
				z.sendBits(count-3, 3)
			} else {
				z.bl[zRepZ3to10].freq++
			}
		default:
			if send {
				z.sendCode(zRepZ11, z.bl[:])
				z.sendBits(count-11, 7)
			} else {
				z.bl[zRepZ11].freq++
			}
		}
		count = 0
		prevLen = curLen
		switch {
		case nextLen == 0:
			maxCount, minCount = 138, 3
		case curLen == nextLen:
			maxCount, minCount = 6, 3
		default:
			maxCount, minCount = 7, 4
		}
	}
}

func (z *zState) buildBLTree() int {
	z.scanTree(z.dynL[:], z.lDesc.maxCode, false)
	z.scanTree(z.dynD[:], z.dDesc.maxCode, false)
	z.buildTree(&z.blDesc)
	maxIndex := zBLCodes - 1
	for ; maxIndex >= 3; maxIndex-- {
		if z.bl[zBLOrder[maxIndex]].len != 0 {
			break
		}
	}
	z.optLen += 3*(maxIndex+1) + 5 + 5 + 4
	return maxIndex
}

func (z *zState) trFlushBlock(buf []byte, haveBuf bool, storedLen int, last bool) {
	z.buildTree(&z.lDesc)
	z.buildTree(&z.dDesc)
	maxBLIndex := z.buildBLTree()
	optLenB := (z.optLen + 3 + 7) >> 3
	staticLenB := (z.staticLen + 3 + 7) >> 3
	if staticLenB <= optLenB {
		optLenB = staticLenB
	}
	lastBit := 0
	if last {
		lastBit = 1
	}
	switch {
	case storedLen+4 <= optLenB && haveBuf:
		z.sendBits(0<<1+lastBit, 3)
		z.windup()
		z.out = append(z.out, byte(storedLen), byte(storedLen>>8), byte(^storedLen), byte(^storedLen>>8))
		z.out = append(z.out, buf...)
	case staticLenB == optLenB:
		z.sendBits(1<<1+lastBit, 3)
		z.compressBlock(zStaticL[:], zStaticD[:])
	default:
		z.sendBits(2<<1+lastBit, 3)
		lcodes, dcodes, blcodes := z.lDesc.maxCode+1, z.dDesc.maxCode+1, maxBLIndex+1
		z.sendBits(lcodes-257, 5)
		z.sendBits(dcodes-1, 5)
		z.sendBits(blcodes-4, 4)
		for rank := 0; rank < blcodes; rank++ {
			z.sendBits(int(z.bl[zBLOrder[rank]].len), 3)
		}
		z.scanTree(z.dynL[:], lcodes-1, true)
		z.scanTree(z.dynD[:], dcodes-1, true)
		z.compressBlock(z.dynL[:], z.dynD[:])
	}
	z.initBlock()
	if last {
		z.windup()
	}
}

func (z *zState) compressBlock(ltree, dtree []zNode) {
	for _, s := range z.syms {
		if s.dist == 0 {
			z.sendCode(int(s.lc), ltree)
			continue
		}
		lc := int(s.lc)
		code := int(zLengthCode[lc])
		z.sendCode(code+zLiterals+1, ltree)
		if extra := zExtraLBits[code]; extra != 0 {
			z.sendBits(lc-zBaseLength[code], extra)
		}
		dist := int(s.dist) - 1
		code = zDCode(dist)
		z.sendCode(code, dtree)
		if extra := zExtraDBits[code]; extra != 0 {
			z.sendBits(dist-zBaseDist[code], extra)
		}
	}
	z.sendCode(zEndBlock, ltree)
}
