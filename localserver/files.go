package localserver

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cctoolkit/cloudconvert/localserver/store"
)

// s3Error is the XML error body of the upload target, like S3's.
type s3Error struct {
	XMLName xml.Name `xml:"Error"`
	Code    string   `xml:"Code"`
	Message string   `xml:"Message"`
}

type s3PostResponse struct {
	XMLName  xml.Name `xml:"PostResponse"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
	Location string   `xml:"Location"`
}

func writeXML(w http.ResponseWriter, status int, v any) {
	b, _ := xml.Marshal(v)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	io.WriteString(w, xml.Header)
	w.Write(b)
}

func uploadErr(w http.ResponseWriter, status int, code, msg string) {
	writeXML(w, status, s3Error{Code: code, Message: msg})
}

// Upload forms are bounded before they are read: the form's URL carries
// the signature, checked before the body; then at most maxFormFields
// fields of at most maxFormField bytes each precede the file, and the whole
// body (chunked too) is capped at MaxFileSize plus 1 MiB.
const (
	maxFormFields = 32
	maxFormField  = 8 << 10
)

// upload is the form target of import/upload tasks: multipart/form-data,
// no Authorization; the signed parameters come first and the file last.
func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("task")
	q := r.URL.Query()
	exp, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	if err != nil || !s.checkSig(q.Get("signature"), "upload", id, q.Get("expires")) {
		uploadErr(w, http.StatusForbidden, "AccessDenied", "Invalid according to Policy: the signature of the upload URL does not match (post to the form's url exactly as given, query included)")
		return
	}
	if time.Now().Unix() > exp {
		uploadErr(w, http.StatusForbidden, "AccessDenied", "Invalid according to Policy: Policy expired")
		return
	}
	if !s.awaitsUpload(id) {
		uploadErr(w, http.StatusConflict, "InvalidRequest", "This task does not wait for an upload (it was deleted, cancelled or already received its file)")
		return
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		uploadErr(w, http.StatusBadRequest, "InvalidRequest", "The upload must be multipart/form-data")
		return
	}
	limit := s.cfg.MaxFileSize + 1<<20
	if r.ContentLength > limit { // fail early on a declared size over the cap
		uploadErr(w, http.StatusBadRequest, "EntityTooLarge", fmt.Sprintf("Your proposed upload exceeds the maximum allowed size of %d bytes", s.cfg.MaxFileSize))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	mr, err := r.MultipartReader()
	if err != nil {
		uploadErr(w, http.StatusBadRequest, "InvalidRequest", "The upload must be multipart/form-data")
		return
	}
	params := map[string]string{}
	for fields := 0; ; fields++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			uploadErr(w, http.StatusBadRequest, "InvalidArgument", "POST requires exactly one file upload per request (the file field must come last)")
			return
		}
		if err != nil {
			uploadErr(w, http.StatusBadRequest, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data")
			return
		}
		if part.FormName() != "file" {
			if fields >= maxFormFields {
				uploadErr(w, http.StatusBadRequest, "InvalidArgument", fmt.Sprintf("The form has more than %d fields before the file", maxFormFields))
				return
			}
			v, err := io.ReadAll(io.LimitReader(part, maxFormField+1))
			part.Close()
			if err != nil {
				uploadErr(w, http.StatusBadRequest, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data")
				return
			}
			if len(v) > maxFormField {
				uploadErr(w, http.StatusBadRequest, "InvalidArgument", fmt.Sprintf("The form field %q is longer than %d bytes", short(part.FormName()), maxFormField))
				return
			}
			params[part.FormName()] = string(v)
			continue
		}
		// The form's own signature field, when sent, must match too.
		if sig, ok := params["signature"]; ok && !s.checkSig(sig, "upload", id, params["expires"]) {
			part.Close()
			uploadErr(w, http.StatusForbidden, "AccessDenied", "Invalid according to Policy: the signature does not match")
			return
		}
		name := part.FileName()
		if name == "" {
			name = "file"
		}
		rec, err := s.st.SaveFile(r.Context(), id, name, part, s.cfg.MaxFileSize)
		part.Close()
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.Is(err, store.ErrFileTooLarge) || errors.As(err, &mbe) {
				uploadErr(w, http.StatusBadRequest, "EntityTooLarge", fmt.Sprintf("Your proposed upload exceeds the maximum allowed size of %d bytes", s.cfg.MaxFileSize))
				return
			}
			uploadErr(w, http.StatusInternalServerError, "InternalError", "The file could not be stored")
			return
		}
		accepted := false
		s.write(func(b *batch) error {
			t := s.tasks[id]
			if t == nil || t.Status != StatusWaiting || t.local.Uploaded {
				return nil
			}
			accepted = true
			n := now()
			t.local.Uploaded = true
			t.local.Files = []fileRef{s.ref(rec)}
			t.Status, t.Message, t.Percent, t.Credits = StatusFinished, nil, 100, intp(0)
			t.StartedAt, t.EndedAt = n, n
			b.task(t)
			b.ended = append(b.ended, id)
			if j := s.jobs[t.jobID()]; j != nil && j.Status == StatusWaiting {
				j.Status, j.StartedAt = StatusProcessing, n
				b.job(j)
			}
			return nil
		})
		if !accepted {
			s.st.DeleteFile(r.Context(), rec.ID)
			uploadErr(w, http.StatusConflict, "InvalidRequest", "This task no longer waits for an upload")
			return
		}
		s.afterEnd(id)
		key := id + "/" + rec.Name
		if params["success_action_status"] == "204" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		writeXML(w, http.StatusCreated, s3PostResponse{Bucket: "local", Key: key, ETag: `"` + rec.MD5 + `"`,
			Location: s.base.String() + "/uploads/" + key})
		return
	}
}

// awaitsUpload reports whether task id is an import/upload still waiting
// for its file.
func (s *Server) awaitsUpload(id string) bool {
	ok := false
	s.rlocked(func() {
		t := s.tasks[id]
		ok = t != nil && t.Operation == "import/upload" && t.Status == StatusWaiting && !t.local.Uploaded
	})
	return ok
}

// download serves an export/url file behind a signed, expiring URL.
func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("file")
	q := r.URL.Query()
	exp, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	if err != nil || !s.checkSig(q.Get("signature"), "file", id, q.Get("expires")) {
		uploadErr(w, http.StatusForbidden, "AccessDenied", "Request has expired or the signature does not match")
		return
	}
	if time.Now().Unix() > exp {
		uploadErr(w, http.StatusForbidden, "AccessDenied", "Request has expired")
		return
	}
	rc, rec, err := s.st.OpenFile(r.Context(), id)
	if err != nil {
		uploadErr(w, http.StatusNotFound, "NoSuchKey", "The file does not exist or it expired")
		return
	}
	defer rc.Close()
	ctype := mime.TypeByExtension(strings.ToLower(extOf(rec.Name)))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": rec.Name}))
	h.Set("ETag", `"`+rec.MD5+`"`)
	if f, ok := rc.(io.ReadSeeker); ok {
		http.ServeContent(w, r, "", rec.CreatedAt, f)
		return
	}
	h.Set("Content-Length", strconv.FormatInt(rec.Size, 10))
	io.Copy(w, rc)
}

func extOf(name string) string {
	if i := strings.LastIndex(name, "."); i >= 0 {
		return name[i:]
	}
	return ""
}
