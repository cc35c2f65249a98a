package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// nginxConf is nginx as the suite runs it: an unprivileged-port child in its own prefix
// directory, no access log, keep-alive to every upstream, one server per scenario.
const nginxConf = `# written by bench/run for one run
worker_processes auto;
pid {{.Dir}}/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path {{.Dir}}/body;
    proxy_temp_path {{.Dir}}/proxy;
    fastcgi_temp_path {{.Dir}}/fastcgi;
    uwsgi_temp_path {{.Dir}}/uwsgi;
    scgi_temp_path {{.Dir}}/scgi;
    keepalive_requests 1000000;

    upstream demo { server {{.Upstream}}; keepalive 128; keepalive_requests 1000000; }
{{- if .Gateway}}
    upstream authgate { server {{.Gateway}}; keepalive 128; keepalive_requests 1000000; }
{{- end}}
{{- if .Peer}}
    upstream oauth2proxy { server {{.Peer}}; keepalive 128; keepalive_requests 1000000; }
{{- end}}

    # nginx-proxy: nginx alone in front of upstream-demo (the ceiling).
    server {
        listen {{.ProxyAddr}};
        location / {
            proxy_pass http://demo;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
{{- if .Gateway}}

    # nginx auth_request -> authgate, then upstream-demo with the identity it answered.
    server {
        listen {{.GatewayAddr}};
        location = /_authgate {
            internal;
            proxy_pass http://authgate/api/authz/auth-request;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
            proxy_set_header X-Original-Method $request_method;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location / {
            auth_request /_authgate;
            auth_request_set $auth_user $upstream_http_x_user_id;
            auth_request_set $auth_role $upstream_http_x_user_role;
            proxy_set_header X-User-Id $auth_user;
            proxy_set_header X-User-Role $auth_role;
            proxy_pass http://demo;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
{{- end}}
{{- if .Peer}}

    # nginx auth_request -> oauth2-proxy /oauth2/auth, then upstream-demo.
    server {
        listen {{.PeerAddr}};
        location = /oauth2/auth {
            internal;
            proxy_pass http://oauth2proxy;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header Host $host;
            proxy_set_header X-Original-URI $request_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location / {
            auth_request /oauth2/auth;
            auth_request_set $auth_user $upstream_http_x_auth_request_user;
            proxy_set_header X-User-Id $auth_user;
            proxy_pass http://demo;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
{{- end}}
}
`

// nginxSite is what the config is rendered from; Gateway and Peer are optional.
type nginxSite struct {
	Dir                              string
	Upstream, Gateway, Peer          string
	ProxyAddr, GatewayAddr, PeerAddr string
}

// renderNginx writes nginx.conf for site into site.Dir.
func renderNginx(site nginxSite) (string, error) {
	t, err := template.New("nginx").Parse(nginxConf)
	if err != nil {
		return "", fmt.Errorf("nginx template: %w", err)
	}
	var b strings.Builder
	if err := t.Execute(&b, site); err != nil {
		return "", fmt.Errorf("nginx template: %w", err)
	}
	path := filepath.Join(site.Dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return "", fmt.Errorf("nginx.conf: %w", err)
	}
	return path, nil
}

// startNginx renders the config on free ports and starts nginx in the foreground
// (daemon off) as a child, then waits for every server to listen.
func (st *stack) startNginx(ctx context.Context, gateway, peer string) (*proc, nginxSite, error) {
	site := nginxSite{Dir: filepath.Join(st.dir, "nginx"), Upstream: st.upstream.addr, Gateway: gateway, Peer: peer}
	if err := os.MkdirAll(site.Dir, 0o755); err != nil { //nolint:gosec // G301: nginx workers (nobody) read it
		return nil, site, fmt.Errorf("nginx dir: %w", err)
	}
	addrs := []*string{&site.ProxyAddr, &site.GatewayAddr, &site.PeerAddr}
	for _, a := range addrs {
		port, err := freePort()
		if err != nil {
			return nil, site, err
		}
		*a = "127.0.0.1:" + strconv.Itoa(port)
	}
	conf, err := renderNginx(site)
	if err != nil {
		return nil, site, err
	}
	p, err := st.ps.start(ctx, spec{name: "nginx", bin: st.bins.nginx, dir: site.Dir,
		args: []string{"-p", site.Dir, "-c", conf, "-g", "daemon off;"}})
	if err != nil {
		return nil, site, err
	}
	listen := []string{site.ProxyAddr}
	if gateway != "" {
		listen = append(listen, site.GatewayAddr)
	}
	if peer != "" {
		listen = append(listen, site.PeerAddr)
	}
	for _, a := range listen {
		if err := waitTCP(ctx, p, a, 10*time.Second); err != nil {
			p.stop(2 * time.Second)
			return nil, site, err
		}
	}
	return p, site, nil
}
