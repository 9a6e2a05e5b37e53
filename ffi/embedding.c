#include "kernels.h"

int32_t dbk_abi_version(void) { return DBK_ABI_VERSION; }

void dbk_embed_layernorm(int32_t threads, const int32_t *ids, const int32_t *positions, const int32_t *types,
                         int32_t T, const float *word_emb, const float *pos_emb, const float *type_emb,
                         int32_t dim, const float *gamma, const float *beta, float eps, float *out) {
    for (int32_t t = 0; t < T; t++) {
        const float *w = word_emb + (int64_t)ids[t] * dim;
        const float *p = pos_emb + (int64_t)positions[t] * dim;
        float *o = out + (int64_t)t * dim;
        if (type_emb) {
            // BERT's order: (word + token type) + position, so the float sums round as transformers' do.
            const float *y = type_emb + (int64_t)types[t] * dim;
            for (int32_t i = 0; i < dim; i++) o[i] = (w[i] + y[i]) + p[i];
        } else {
            for (int32_t i = 0; i < dim; i++) o[i] = w[i] + p[i];
        }
    }
    dbk_layernorm(threads, out, T, dim, gamma, beta, eps, out);
}
