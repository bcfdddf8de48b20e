// SPDX-License-Identifier: GPL-2.0-or-later
/* Module signing with libcrypto (CMS), byte-compatible with sign-file. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "sign.h"
#include "util.h"

#define SIG_MAGIC "~Module signature appended~\n"
#define SIG_MAGIC_LEN (sizeof(SIG_MAGIC) - 1)
#define PKEY_ID_PKCS7 2

/* include/linux/module_signature.h */
struct module_signature {
	uint8_t algo;
	uint8_t hash;
	uint8_t id_type;
	uint8_t signer_len;
	uint8_t key_id_len;
	uint8_t pad[3];
	uint32_t sig_len; /* big endian */
};

bool elp_module_is_signed(const char *path)
{
	char tail[SIG_MAGIC_LEN];
	bool ok = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	off_t size;

	if (fd < 0)
		return false;
	size = lseek(fd, 0, SEEK_END);
	if (size >= (off_t)SIG_MAGIC_LEN &&
	    pread(fd, tail, SIG_MAGIC_LEN, size - (off_t)SIG_MAGIC_LEN) ==
		    (ssize_t)SIG_MAGIC_LEN)
		ok = memcmp(tail, SIG_MAGIC, SIG_MAGIC_LEN) == 0;
	close(fd);
	return ok;
}

/* The last libcrypto error, for one message; clears the queue. */
static const char *crypto_error(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	if (!e)
		snprintf(buf, len, "unknown libcrypto error");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

/* The module without a signature already appended (length only). */
static size_t unsigned_length(const char *data, size_t len)
{
	struct module_signature ms;
	size_t sig;

	if (len < SIG_MAGIC_LEN + sizeof(ms) ||
	    memcmp(data + len - SIG_MAGIC_LEN, SIG_MAGIC, SIG_MAGIC_LEN) != 0)
		return len;
	memcpy(&ms, data + len - SIG_MAGIC_LEN - sizeof(ms), sizeof(ms));
	sig = ntohl(ms.sig_len);
	if (sig > len - SIG_MAGIC_LEN - sizeof(ms))
		return len;
	return len - SIG_MAGIC_LEN - sizeof(ms) - sig;
}

static X509 *read_cert(struct elp_ctx *ctx, const char *path)
{
	unsigned char head[2];
	X509 *x = NULL;
	char err[256];
	BIO *b = BIO_new_file(path, "rb");

	if (!b) {
		elp_err(ctx, "cannot read certificate '%s': %s", path,
			crypto_error(err, sizeof(err)));
		return NULL;
	}
	if (BIO_read(b, head, 2) == 2 && BIO_reset(b) == 0) {
		if (head[0] == 0x30 && head[1] >= 0x81 && head[1] <= 0x84)
			x = d2i_X509_bio(b, NULL); /* DER */
		else
			x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	}
	BIO_free(b);
	if (!x)
		elp_err(ctx, "'%s' holds no X.509 certificate: %s", path,
			crypto_error(err, sizeof(err)));
	return x;
}

static EVP_PKEY *read_key(struct elp_ctx *ctx, const char *path)
{
	EVP_PKEY *key = NULL;
	char err[256];
	BIO *b = BIO_new_file(path, "rb");

	if (!b) {
		elp_err(ctx, "cannot read signing key '%s': %s", path,
			crypto_error(err, sizeof(err)));
		return NULL;
	}
	key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	if (!key)
		elp_err(ctx, "'%s' holds no PEM private key: %s", path,
			crypto_error(err, sizeof(err)));
	return key;
}

static char *subject_cn(X509 *x)
{
	char cn[256];

	if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
				      cn, sizeof(cn)) < 0)
		return strdup("?");
	return strdup(cn);
}

int elp_module_sign(struct elp_ctx *ctx, const char *module,
		    const struct elp_sign_opts *opts, char **signer)
{
	const char *hash = opts->hash ? opts->hash : "sha256";
	const char *cert_path = opts->cert ? opts->cert : opts->key;
	struct module_signature ms = { .id_type = PKEY_ID_PKCS7 };
	CMS_ContentInfo *cms = NULL;
	struct elp_buf out = { 0 };
	BIO *bm = NULL, *bs = NULL;
	EVP_PKEY *key = NULL;
	const EVP_MD *md;
	char *data = NULL, *sig;
	struct stat st;
	size_t len, mlen;
	long slen;
	X509 *x = NULL;
	char err[256];
	int ret = -EINVAL;

	if (signer)
		*signer = NULL;
	if (elp_read_file(ctx, module, &data, &len))
		return -EIO;
	mlen = unsigned_length(data, len);
	md = EVP_get_digestbyname(hash);
	if (!md) {
		elp_err(ctx, "unknown signature hash '%s'", hash);
		goto out;
	}
	key = read_key(ctx, opts->key);
	x = key ? read_cert(ctx, cert_path) : NULL;
	if (!x)
		goto out;
	if (X509_check_private_key(x, key) != 1) {
		elp_err(ctx,
			"the key '%s' does not belong to the certificate '%s'",
			opts->key, cert_path);
		goto out;
	}
	bm = BIO_new_mem_buf(data, (int)mlen);
	cms = CMS_sign(NULL, NULL, NULL, NULL,
		       CMS_NOCERTS | CMS_PARTIAL | CMS_BINARY | CMS_DETACHED |
			       CMS_STREAM);
	if (!bm || !cms ||
	    !CMS_add1_signer(cms, x, key, md,
			     CMS_NOCERTS | CMS_BINARY | CMS_NOSMIMECAP |
				     CMS_NOATTR) ||
	    CMS_final(cms, bm, NULL, CMS_NOCERTS | CMS_BINARY) != 1) {
		elp_err(ctx, "cannot sign '%s': %s", module,
			crypto_error(err, sizeof(err)));
		goto out;
	}
	bs = BIO_new(BIO_s_mem());
	if (!bs || i2d_CMS_bio_stream(bs, cms, NULL, 0) < 0) {
		elp_err(ctx, "cannot encode the signature of '%s': %s", module,
			crypto_error(err, sizeof(err)));
		goto out;
	}
	slen = BIO_get_mem_data(bs, &sig);
	ms.sig_len = htonl((uint32_t)slen);
	ret = elp_buf_append(&out, data, mlen);
	if (!ret)
		ret = elp_buf_append(&out, sig, (size_t)slen);
	if (!ret)
		ret = elp_buf_append(&out, &ms, sizeof(ms));
	if (!ret)
		ret = elp_buf_append(&out, SIG_MAGIC, SIG_MAGIC_LEN);
	if (ret)
		goto out;
	ret = elp_write_file_atomic(
		ctx, module, out.data, out.len,
		stat(module, &st) == 0 ? (int)(st.st_mode & 07777) : 0644);
	if (!ret && signer)
		*signer = subject_cn(x);
out:
	elp_buf_free(&out);
	BIO_free(bs);
	BIO_free(bm);
	CMS_ContentInfo_free(cms);
	X509_free(x);
	EVP_PKEY_free(key);
	free(data);
	return ret;
}

bool elp_sign_configured(const struct elp_ctx *ctx, struct elp_sign_opts *opts)
{
	const char *key = elp_get(ctx, ELP_SET_SIGN_KEY);

	opts->key = key ? key : ELP_SIGN_DEFAULT_KEY;
	opts->cert = elp_get(ctx, ELP_SET_SIGN_CERT);
	opts->hash = NULL;
	return elp_is_file(opts->key);
}
