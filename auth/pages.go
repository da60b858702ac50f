package auth

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"net/http"

	"github.com/labstack/echo/v4"
)

// The pages: html/template (everything auto-escaped), embedded, no
// script. The style sheet is inline and allowed by its hash, so the
// Content-Security-Policy allows nothing else.

//go:embed templates
var templateFS embed.FS

// pageNames are the templates/NAME.html pages, each executed inside
// layout.html.
var pageNames = []string{"login", "consent", "picker", "reset", "reset_sent", "confirm", "done", "error"}

type pageSet struct {
	pages map[string]*template.Template
	csp   string
}

func loadPages() (*pageSet, error) {
	css, err := templateFS.ReadFile("templates/style.css")
	if err != nil {
		return nil, err
	}
	style := template.CSS(css)
	funcs := template.FuncMap{"style": func() template.CSS { return style }}
	ps := &pageSet{pages: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		ps.pages[name] = t
	}
	sum := sha256.Sum256(css)
	ps.csp = "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; frame-ancestors 'none'; base-uri 'none'"
	return ps, nil
}

// view is what a page shows; each page uses some of it.
type view struct {
	Title   string
	CSRF    string // the session's, for the hidden csrf_token
	Pending string // the pending authorize request's id
	Error   string
	Message string
	Client  string // the app's name
	User    string
	PSC     bool // offer Pro Santé Connect
	// Consent.
	Scopes  []string
	Patient string
	// Picker.
	Name, Identifier string
	Searched         bool
	Results          []patientRow
	// Reset.
	NoMail bool
	Token  string
}

func (w *browserSide) render(c echo.Context, status int, name string, v *view) error {
	var b bytes.Buffer
	if err := w.pages.pages[name].Execute(&b, v); err != nil {
		w.s.cfg.Logger.Error("auth page template", "page", name, "error", err)
		return c.String(http.StatusInternalServerError, "page error")
	}
	return c.HTMLBlob(status, b.Bytes())
}
