package engine

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"
)

// A minimal EXIF reader, hand-written because no EXIF library is among the
// module's dependencies and the metadata task only needs the common tags.
// It reads the TIFF structure inside a JPEG APP1 "Exif" segment (or a TIFF
// file itself), IFD0 plus the Exif and GPS sub-IFDs, with bounds checks on
// every offset: the input is untrusted.

// maxExifBytes bounds how much of a TIFF file is read for its tags.
const maxExifBytes = 16 << 20

var exifTagNames = map[uint16]string{
	0x010e: "ImageDescription", 0x010f: "Make", 0x0110: "Model", 0x0112: "Orientation",
	0x011a: "XResolution", 0x011b: "YResolution", 0x0128: "ResolutionUnit", 0x0131: "Software",
	0x0132: "ModifyDate", 0x013b: "Artist", 0x8298: "Copyright",
	0x829a: "ExposureTime", 0x829d: "FNumber", 0x8822: "ExposureProgram", 0x8827: "ISO",
	0x9000: "ExifVersion", 0x9003: "DateTimeOriginal", 0x9004: "CreateDate",
	0x9201: "ShutterSpeedValue", 0x9202: "ApertureValue", 0x9204: "ExposureCompensation",
	0x9207: "MeteringMode", 0x9209: "Flash", 0x920a: "FocalLength", 0xa002: "ExifImageWidth",
	0xa003: "ExifImageHeight", 0xa405: "FocalLengthIn35mmFormat", 0xa434: "LensModel",
	0xa433: "LensMake", 0xa420: "ImageUniqueID",
}

var gpsTagNames = map[uint16]string{
	0x0001: "GPSLatitudeRef", 0x0002: "GPSLatitude", 0x0003: "GPSLongitudeRef",
	0x0004: "GPSLongitude", 0x0005: "GPSAltitudeRef", 0x0006: "GPSAltitude",
	0x0007: "GPSTimeStamp", 0x001d: "GPSDateStamp",
}

// jpegExif returns the TIFF bytes of a JPEG's EXIF segment, or nil.
func jpegExif(path string) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var soi [2]byte
	if _, err := io.ReadFull(br, soi[:]); err != nil || soi != [2]byte{0xff, 0xd8} {
		return nil
	}
	for range 64 { // EXIF sits among the first few segments
		var hdr [4]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil || hdr[0] != 0xff {
			return nil
		}
		marker, n := hdr[1], int(binary.BigEndian.Uint16(hdr[2:]))-2
		if marker == 0xda || marker == 0xd9 || n < 0 { // start of scan: no more metadata
			return nil
		}
		seg := make([]byte, n)
		if _, err := io.ReadFull(br, seg); err != nil {
			return nil
		}
		if marker == 0xe1 && len(seg) > 6 && string(seg[:6]) == "Exif\x00\x00" {
			return seg[6:]
		}
	}
	return nil
}

// parseExif decodes IFD0 and the Exif/GPS sub-IFDs of TIFF data.
func parseExif(b []byte) map[string]any {
	if len(b) < 8 {
		return nil
	}
	var bo binary.ByteOrder
	switch string(b[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return nil
	}
	out := map[string]any{}
	p := exifParser{b: b, bo: bo}
	sub := p.ifd(bo.Uint32(b[4:]), exifTagNames, out)
	if off, ok := sub[0x8769]; ok {
		p.ifd(off, exifTagNames, out)
	}
	if off, ok := sub[0x8825]; ok {
		p.ifd(off, gpsTagNames, out)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

type exifParser struct {
	b  []byte
	bo binary.ByteOrder
}

var exifTypeSize = map[uint16]uint32{1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8}

// ifd reads one directory into out and returns the sub-IFD pointers it saw.
func (p exifParser) ifd(off uint32, names map[uint16]string, out map[string]any) map[uint16]uint32 {
	ptrs := map[uint16]uint32{}
	if uint64(off)+2 > uint64(len(p.b)) {
		return ptrs
	}
	n := int(p.bo.Uint16(p.b[off:]))
	for i := range min(n, 512) {
		e := uint64(off) + 2 + uint64(i)*12
		if e+12 > uint64(len(p.b)) {
			break
		}
		tag, typ, count := p.bo.Uint16(p.b[e:]), p.bo.Uint16(p.b[e+2:]), p.bo.Uint32(p.b[e+4:])
		if tag == 0x8769 || tag == 0x8825 {
			ptrs[tag] = p.bo.Uint32(p.b[e+8:])
			continue
		}
		name, known := names[tag]
		size, typed := exifTypeSize[typ]
		if !known || !typed || count == 0 || count > 1<<16 {
			continue
		}
		total := uint64(size) * uint64(count)
		data := p.b[e+8 : e+12]
		if total > 4 {
			vo := uint64(p.bo.Uint32(p.b[e+8:]))
			if vo+total > uint64(len(p.b)) {
				continue
			}
			data = p.b[vo : vo+total]
		}
		if v := p.value(typ, count, data[:total]); v != nil {
			out[name] = v
		}
	}
	return ptrs
}

func (p exifParser) value(typ uint16, count uint32, d []byte) any {
	var vals []any
	for i := uint32(0); i < count; i++ {
		switch typ {
		case 2, 7:
			s := strings.TrimRight(string(d), "\x00 ")
			if typ == 7 && strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 }) {
				return nil // binary blob (maker notes etc.)
			}
			return s
		case 1:
			vals = append(vals, int(d[i]))
		case 3:
			vals = append(vals, int(p.bo.Uint16(d[i*2:])))
		case 4:
			vals = append(vals, int64(p.bo.Uint32(d[i*4:])))
		case 9:
			vals = append(vals, int64(int32(p.bo.Uint32(d[i*4:]))))
		case 5, 10:
			num, den := p.bo.Uint32(d[i*8:]), p.bo.Uint32(d[i*8+4:])
			if typ == 10 {
				vals = append(vals, rational(float64(int32(num)), float64(int32(den))))
			} else {
				vals = append(vals, rational(float64(num), float64(den)))
			}
		}
	}
	if len(vals) == 1 {
		return vals[0]
	}
	return vals
}

func rational(num, den float64) any {
	if den == 0 {
		return nil
	}
	v := num / den
	if num == 1 && den > 1 {
		return fmt.Sprintf("1/%g", den) // exposure times read best as fractions
	}
	return v
}

// imageMetadata reports size, format and EXIF tags with exiftool-style keys.
func imageMetadata(in File) (map[string]any, error) {
	info, err := probeImage(in.Path, displayName(in))
	if err != nil {
		return nil, err
	}
	format, cfg := info.format, info.cfg
	mime := map[string]string{"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif",
		"bmp": "image/bmp", "tiff": "image/tiff", "webp": "image/webp"}[format]
	md := map[string]any{
		"FileName":    displayName(in),
		"FileType":    strings.ToUpper(format),
		"MIMEType":    mime,
		"ImageWidth":  cfg.Width,
		"ImageHeight": cfg.Height,
		"ImageSize":   fmt.Sprintf("%dx%d", cfg.Width, cfg.Height),
		"Megapixels":  round2(float64(cfg.Width*cfg.Height) / 1e6),
	}
	if format == "jpg" {
		md["FileType"] = "JPEG"
	}
	if st, err := os.Stat(in.Path); err == nil {
		md["FileSize"] = st.Size()
	}
	var tiffData []byte
	switch format {
	case "jpg":
		tiffData = jpegExif(in.Path)
	case "tiff":
		if f, err := os.Open(in.Path); err == nil { // the tags sit near the start; pixel data is not needed
			tiffData, _ = io.ReadAll(io.LimitReader(f, maxExifBytes))
			f.Close()
		}
	}
	for k, v := range parseExif(tiffData) {
		if _, taken := md[k]; !taken {
			md[k] = v
		}
	}
	return md, nil
}
