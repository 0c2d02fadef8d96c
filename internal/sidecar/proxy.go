package sidecar

import (
	"bufio"
	"net/http"
	"strconv"
	"time"

	"github.com/portway/portway/internal/h1"
)

// corsHeaders are the headers the storage service's nginx adds to every
// response. They replace any value the app set, so they are never duplicated.
var corsHeaders = [...][2]string{
	{"Access-Control-Allow-Origin", "*"},
	{"Access-Control-Allow-Methods", "GET, POST, OPTIONS"},
	{"Access-Control-Allow-Headers", "DNT,X-CustomHeader,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type"},
	{"Access-Control-Allow-Credentials", "true"},
}

// CORSHeaders returns a fresh copy of the headers added to every response.
func CORSHeaders() http.Header {
	h := make(http.Header, len(corsHeaders))
	for _, kv := range corsHeaders {
		h.Set(kv[0], kv[1])
	}
	return h
}

// corsLines is the CORS block as written on the wire.
var corsLines = func() []byte {
	var b []byte
	for _, kv := range corsHeaders {
		b = append(b, kv[0]+": "+kv[1]+"\r\n"...)
	}
	return b
}()

// writeRequestHead writes the request head for the app: the client's
// method, target and fields (hop-by-hop ones dropped), X-Real-IP and
// X-Forwarded-For as nginx's proxy_set_header sets them, and the framing
// of the body as the sidecar will send it.
func writeRequestHead(w *bufio.Writer, req *h1.Head, clientIP, upstreamHost string) {
	target, authority := originForm(req.Target)
	if authority == nil && req.Host == nil {
		// An HTTP/1.0 request may come without Host; the app gets one.
		authority = []byte(upstreamHost)
	}
	w.Write(req.Method)
	w.WriteByte(' ')
	w.Write(target)
	w.WriteString(" HTTP/1.1\r\n")
	if authority != nil {
		// An absolute-form target names the host (RFC 9112 section 3.2.2).
		w.WriteString("Host: ")
		w.Write(authority)
		w.WriteString("\r\n")
	}
	var xffBuf [4][]byte // the client's X-Forwarded-For fields, without allocating
	xff := xffBuf[:0]
	for _, f := range req.Fields {
		switch {
		case h1.HopByHop(f.Name), h1.Fold(f.Name, "x-real-ip"):
			continue
		case req.Listed(f.Name) && !h1.Fold(f.Name, "host"):
			continue // Host is end-to-end whatever Connection says
		case h1.Fold(f.Name, "x-forwarded-for"):
			xff = append(xff, f.Value)
			continue
		case authority != nil && h1.Fold(f.Name, "host"):
			continue
		}
		h1.WriteField(w, f)
	}
	// proxy_set_header X-Real-IP $remote_addr;
	// proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
	w.WriteString("X-Real-IP: ")
	w.WriteString(clientIP)
	w.WriteString("\r\n")
	h1.WriteForwardedFor(w, xff, clientIP)
	h1.WriteRequestFraming(w, req)
}

// originForm splits an absolute-form target ("http://host/path?q") into
// its path and authority; other targets come back as they are.
func originForm(target []byte) (path, authority []byte) {
	const scheme = "http://"
	if len(target) < len(scheme) || !h1.Fold(target[:len(scheme)], scheme) {
		return target, nil
	}
	rest := target[len(scheme):]
	for i, c := range rest {
		if c == '/' || c == '?' {
			if c == '?' {
				return append([]byte("/"), rest[i:]...), rest[:i]
			}
			return rest[i:], rest[:i]
		}
	}
	return []byte("/"), rest
}

// writeResponseHead writes the app's response head for the client: its
// status and fields, hop-by-hop ones dropped, CORS replaced and Server
// replaced by serverLine (nginx hides the upstream's Server and sends its
// own), with the framing the sidecar will send the body in (chunked, else
// the app's length, else none: the connection's end frames it).
func writeResponseHead(w *bufio.Writer, res *h1.Head, f h1.Framing, serverLine string) {
	w.WriteString("HTTP/1.1 ")
	w.Write(strconv.AppendInt(w.AvailableBuffer(), int64(res.Status), 10))
	w.WriteByte(' ')
	if len(res.Reason) > 0 {
		w.Write(res.Reason)
	} else {
		w.WriteString(http.StatusText(res.Status))
	}
	w.WriteString("\r\n")
	sawDate := false
	for _, f := range res.Fields {
		if h1.HopByHop(f.Name) || res.Listed(f.Name) || isCORS(f.Name) || h1.Fold(f.Name, "server") {
			continue
		}
		if !sawDate && h1.Fold(f.Name, "date") {
			sawDate = true
		}
		h1.WriteField(w, f)
	}
	if !sawDate {
		w.WriteString("Date: ")
		w.WriteString(h1.Date(time.Now()))
		w.WriteString("\r\n")
	}
	w.WriteString(serverLine)
	w.Write(corsLines)
	h1.WriteResponseFraming(w, res, f)
}

func isCORS(name []byte) bool {
	const prefix = "access-control-allow-"
	if len(name) <= len(prefix) || !h1.Fold(name[:len(prefix)], prefix) {
		return false
	}
	for _, kv := range corsHeaders {
		if h1.Fold(name, kv[0]) {
			return true
		}
	}
	return false
}

// writeError writes a small nginx-like HTML error page, CORS headers
// included, and flushes it.
func (s *Sidecar) writeError(cc *h1.ServerConn, code int, closing bool) {
	text := http.StatusText(code)
	switch code {
	case http.StatusGatewayTimeout:
		text = "Gateway Time-out" // nginx's spelling
	case http.StatusRequestEntityTooLarge:
		text = "Request Entity Too Large"
	case http.StatusRequestTimeout:
		text = "Request Time-out"
	}
	title := strconv.Itoa(code) + " " + text
	body := "<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n<center><h1>" +
		title + "</h1></center>\r\n<hr><center>portway sidecar</center>\r\n</body>\r\n</html>\r\n"
	w := cc.W
	_ = cc.Conn.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	w.WriteString("HTTP/1.1 " + title + "\r\nDate: " + h1.Date(time.Now()) + "\r\nContent-Type: text/html\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n")
	w.WriteString(s.serverLine)
	w.Write(corsLines)
	if closing {
		w.WriteString("Connection: close\r\n")
	}
	w.WriteString("\r\n")
	if string(cc.Req.Method) != http.MethodHead {
		w.WriteString(body)
	}
	_ = w.Flush()
}
