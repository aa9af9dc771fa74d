// Package deploy holds the deployment files of Wharf (not Go code): the
// container image (Dockerfile), a hardened systemd unit (systemd/), a
// Kubernetes manifest (kubernetes/) and a compose file to try a scale-out
// locally (compose/). Its test checks that they parse and agree with each
// other and with the server; docs/deployment.md explains them.
package deploy
