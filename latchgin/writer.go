package latchgin

import (
	"bufio"
	"io"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"
)

// writer is the gin.ResponseWriter that handlers behind Middleware see.
// gin keeps the status a handler chooses (c.Status) and writes it only
// when the body begins or the handler chain ends; writer keeps that
// behaviour and sends every write through latch's writer (lw), which
// commits the session and adds its headers before the first byte goes
// out. Status, Size, Written, CloseNotify and Pusher are gin's own.
type writer struct {
	gin.ResponseWriter                     // gin's writer: the status chosen, the bytes written
	lw                 http.ResponseWriter // latch's writer around below
	begun              bool                // lw has been told the status
	c                  *gin.Context
	below              below
}

// below is what latch's writer writes to: gin's writer, and the way back
// to the request's writer and context for serve. It lives inside writer,
// so a request allocates one of them.
type below struct {
	gin.ResponseWriter
	w *writer
}

// begin tells latch's writer the status gin holds, once: latch commits
// the session and adds its headers, and gin's writer records the status
// without writing it yet.
func (w *writer) begin() {
	if !w.begun {
		w.begun = true
		w.lw.WriteHeader(w.ResponseWriter.Status())
	}
}

// WriteHeader records the status, as gin does; nothing is sent yet.
func (w *writer) WriteHeader(code int) { w.ResponseWriter.WriteHeader(code) }

// WriteHeaderNow commits the session and sends the headers.
func (w *writer) WriteHeaderNow() {
	w.begin()
	w.ResponseWriter.WriteHeaderNow()
}

func (w *writer) Write(b []byte) (int, error) {
	w.begin()
	return w.lw.Write(b)
}

func (w *writer) WriteString(s string) (int, error) {
	w.begin()
	return io.WriteString(w.lw, s)
}

// Flush commits the session, sends the headers and flushes.
func (w *writer) Flush() {
	w.begin()
	w.lw.(http.Flusher).Flush()
}

// Hijack commits the session and hands over the connection.
func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.begin()
	return w.lw.(http.Hijacker).Hijack()
}

// Unwrap returns latch's writer, for http.ResponseController.
func (w *writer) Unwrap() http.ResponseWriter { return w.lw }
