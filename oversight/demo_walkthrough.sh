D=var/demo/XA
SHA=$(openssl x509 -in $D/auth.pem -outform DER | sha256sum | cut -c1-64)
AUTH=(-H "X-SSL-Client-SHA256: $SHA" -H "X-SSL-Client-DN: C=XA,CN=XA demo TLS client")

# the trust list: every country's onboarded certificates, and XB's and XC's DSCs
curl -s "${AUTH[@]}" http://127.0.0.1:8000/trustList | .venv/bin/python -c \
    'import json,sys; [print(e["certificateType"], e["country"], e["kid"]) for e in json.load(sys.stdin)]'

# a fresh DSC under XA's demo CSCA (written to var/demo/XA/dsc.pem), then its upload: an
# attached CMS signed with XA's UPLOAD key, base64 without line breaks
.venv/bin/python manage.py demo_dsc XA
openssl x509 -in $D/dsc.pem -outform DER -out /tmp/xa-dsc.der
openssl cms -sign -nodetach -binary -in /tmp/xa-dsc.der -signer $D/upload.pem -inkey $D/upload.key \
    -outform DER | base64 -w0 > /tmp/xa-dsc.cms
curl -si "${AUTH[@]}" -H "Content-Type: application/cms" --data-binary @/tmp/xa-dsc.cms \
    http://127.0.0.1:8000/signerCertificate                       # 201; again: 409 0x002

# the entry's signature is XA's detached CMS: anyone can check it with OpenSSL
curl -s "${AUTH[@]}" http://127.0.0.1:8000/trustList/DSC/XA | .venv/bin/python -c \
    'import json,sys,base64; e=json.load(sys.stdin)[0]; open("/tmp/sig.der","wb").write(base64.b64decode(e["signature"]))'
openssl cms -verify -binary -inform DER -in /tmp/sig.der -content /tmp/xa-dsc.der -noverify -out /dev/null

# revoke it with a CMS signed afresh (replaying the upload's is refused: docs/policy.md); the
# DSCs changed in the last hour then show it revoked (rawData null)
openssl cms -sign -nodetach -binary -in /tmp/xa-dsc.der -signer $D/upload.pem -inkey $D/upload.key \
    -outform DER | base64 -w0 > /tmp/xa-revoke.cms
curl -si "${AUTH[@]}" -X DELETE -H "Content-Type: application/cms" --data-binary @/tmp/xa-revoke.cms \
    http://127.0.0.1:8000/signerCertificate                       # 204
curl -s "${AUTH[@]}" -H "If-Modified-Since: $(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)" \
    http://127.0.0.1:8000/trustList/DSC | .venv/bin/python -c \
    'import json,sys; [print(e["country"], e["kid"], "revoked" if e["rawData"] is None else "trusted") for e in json.load(sys.stdin)]'

# what verifiers download (no client certificate): the signed index, lists and deltas,
# re-published after every change; check the whole folder against the pinned trust anchor
curl -s http://127.0.0.1:8000/publication/index.jws | .venv/bin/python -c \
    'import sys,json,base64; p=sys.stdin.read().split(".")[1]; print(json.dumps(json.loads(base64.urlsafe_b64decode(p+"==")))[:400])'
.venv/bin/python manage.py verify_publication --trust-anchor var/demo/trust-anchor/ta.pem --dir var/publish
.venv/bin/python manage.py publication_status
