/* SPDX-License-Identifier: MIT */
/*
 * Encoding and muxing interleaved float32 PCM with libavcodec/libavformat:
 * Opus in Ogg (libopus), MP3 (libmp3lame), AAC in ADTS, FLAC and WAV. The
 * muxer writes through an AVIOContext whose callbacks hand every byte to the
 * caller at once, so a stream's first bytes leave while the rest is encoded.
 *
 * Samples pass from the caller through libswresample (sample format, planar
 * layout, a downmix where the codec takes fewer channels; 16-bit output is
 * rounded, not dithered, so a 16-bit source comes back bit for bit) into an AVAudioFifo that cuts
 * them into the codec's frame size; frame pts count samples from 0, so the encoders' own delay and
 * padding reach the muxer: Opus pre-skip and end trimming in Ogg, the LAME
 * tag's delay and padding in MP3 (written when the sink can seek back).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libswresample/swresample.h>

#include "media/media.h"

enum { AVIO_BUF = 16 * 1024, PCM_FRAME = 1024 };

static const struct format_info {
    const char *name;
    const char *encoder;
    const char *muxer;
    const char *mime;
    const char *suffix;
    int default_kbps; /* 0: lossless, no bitrate */
    int min_kbps, max_kbps;
    int max_channels;
} formats[LG_FORMAT_N] = {
    [LG_FORMAT_OPUS] = { "opus", "libopus", "ogg", "audio/ogg", "opus", 128, 6, 510, 8 },
    [LG_FORMAT_MP3] = { "mp3", "libmp3lame", "mp3", "audio/mpeg", "mp3", 320, 32, 320, 2 },
    [LG_FORMAT_AAC] = { "aac", "aac", "adts", "audio/aac", "aac", 192, 16, 512, 8 },
    [LG_FORMAT_FLAC] = { "flac", "flac", "flac", "audio/flac", "flac", 0, 0, 0, 8 },
    [LG_FORMAT_WAV] = { "wav", "pcm_s16le", "wav", "audio/wav", "wav", 0, 0, 0, 8 },
};

int lg_format_parse(const char *name)
{
    if (!name)
        return LG_EINVAL;
    for (int i = 0; i < LG_FORMAT_N; i++) {
        if (strcasecmp(name, formats[i].name) == 0)
            return i;
    }
    if (strcasecmp(name, "ogg") == 0)
        return LG_FORMAT_OPUS;
    if (strcasecmp(name, "m4a") == 0 || strcasecmp(name, "adts") == 0)
        return LG_FORMAT_AAC;
    return LG_EINVAL;
}

static const struct format_info *info(int format)
{
    return format >= 0 && format < LG_FORMAT_N ? &formats[format] : NULL;
}

const char *lg_format_name(int format)
{
    return info(format) ? info(format)->name : "";
}

const char *lg_format_mime(int format)
{
    return info(format) ? info(format)->mime : "application/octet-stream";
}

const char *lg_format_suffix(int format)
{
    return info(format) ? info(format)->suffix : "";
}

bool lg_format_lossless(int format)
{
    return info(format) && info(format)->default_kbps == 0;
}

int lg_format_bitrate(int format, int kbps)
{
    const struct format_info *f = info(format);
    if (!f || f->default_kbps == 0)
        return 0;
    if (kbps <= 0)
        return f->default_kbps;
    if (kbps < f->min_kbps)
        return f->min_kbps;
    if (format == LG_FORMAT_MP3) {
        /* MP3's bitrates are a fixed list: the largest not above kbps. */
        static const int mp3[] = { 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320 };
        int best = mp3[0];
        for (size_t i = 0; i < LG_ARRAY_LEN(mp3); i++) {
            if (mp3[i] <= kbps)
                best = mp3[i];
        }
        return best;
    }
    return kbps > f->max_kbps ? f->max_kbps : kbps;
}

int lg_format_rate(int format, int in_rate)
{
    switch (format) {
    case LG_FORMAT_OPUS:
        return 48000;
    case LG_FORMAT_MP3:
    case LG_FORMAT_AAC: {
        /* The codec's own rates; the source rate when it is one of them,
         * else 44.1 kHz for the 44.1 family and 48 kHz for the rest. */
        static const int ok[] = { 48000, 44100, 32000, 24000, 22050, 16000 };
        for (size_t i = 0; i < LG_ARRAY_LEN(ok); i++) {
            if (ok[i] == in_rate)
                return in_rate;
        }
        return in_rate % 11025 == 0 ? 44100 : 48000;
    }
    case LG_FORMAT_FLAC:
        return in_rate > 0 && in_rate <= 192000 ? in_rate : 48000;
    default:
        return in_rate > 0 && in_rate <= 384000 ? in_rate : 48000;
    }
}

struct lg_encoder {
    const struct format_info *f;
    AVFormatContext *oc;
    AVCodecContext *enc;
    AVStream *st;
    SwrContext *swr;
    AVAudioFifo *fifo;
    AVFrame *frame;
    AVPacket *pkt;
    lg_encoder_write_fn *write;
    lg_encoder_seek_fn *seek;
    void *ctx;
    int channels;   /* input channels */
    int frame_size; /* samples per encoder frame */
    int64_t pts;    /* samples given to the encoder */
    int64_t pos;    /* the sink's offset (seekable sinks) */
    uint8_t **conv; /* converted samples, encoder format */
    int conv_cap;
    int sink_error; /* the first error a callback returned */
    bool header_done;
    bool finished;
};

/* FFmpeg 7 made the buffer const. */
#if LIBAVFORMAT_VERSION_MAJOR >= 61
#define AVIO_CONST const
#else
#define AVIO_CONST
#endif

static int sink_write(void *opaque, AVIO_CONST uint8_t *buf, int n)
{
    struct lg_encoder *e = opaque;
    if (e->sink_error)
        return AVERROR(EIO);
    int r = e->write(e->ctx, buf, (size_t)n);
    if (r < 0) {
        e->sink_error = r;
        return AVERROR(EIO);
    }
    e->pos += n;
    return n;
}

static int64_t sink_seek(void *opaque, int64_t off, int whence)
{
    struct lg_encoder *e = opaque;
    if (whence & AVSEEK_SIZE)
        return -1;
    whence &= ~AVSEEK_FORCE;
    int64_t to = whence == SEEK_SET ? off : whence == SEEK_CUR ? e->pos + off : -1;
    if (to < 0 || !e->seek)
        return AVERROR(ESPIPE);
    int r = e->seek(e->ctx, to);
    if (r < 0)
        return AVERROR(EIO);
    e->pos = to;
    return to;
}

void lg_encoder_free(struct lg_encoder *e)
{
    if (!e)
        return;
    if (e->oc) {
        if (e->oc->pb) {
            av_freep(&e->oc->pb->buffer);
            avio_context_free(&e->oc->pb);
        }
        avformat_free_context(e->oc);
    }
    avcodec_free_context(&e->enc);
    swr_free(&e->swr);
    if (e->fifo)
        av_audio_fifo_free(e->fifo);
    av_frame_free(&e->frame);
    av_packet_free(&e->pkt);
    if (e->conv)
        av_freep(&e->conv[0]);
    av_freep(&e->conv);
    free(e);
}

static int fail(char *err, size_t err_len, int rc, const char *what)
{
    if (err && err_len)
        snprintf(err, err_len, "%s", what);
    return rc;
}

static int open_codec(struct lg_encoder *e, const struct lg_encode_opts *o, char *err,
                      size_t err_len)
{
    const AVCodec *codec = avcodec_find_encoder_by_name(e->f->encoder);
    if (!codec)
        return fail(err, err_len, LG_EMEDIA, "this FFmpeg has no encoder for the format");
    e->enc = avcodec_alloc_context3(codec);
    if (!e->enc)
        return -ENOMEM;
    AVCodecContext *c = e->enc;
    int out_ch = o->channels > e->f->max_channels ? e->f->max_channels : o->channels;
    av_channel_layout_default(&c->ch_layout, out_ch);
    c->sample_rate = o->rate;
    c->time_base = (AVRational){ 1, o->rate };
    int bitrate = lg_format_bitrate(o->format, o->bitrate_kbps);
    if (bitrate)
        c->bit_rate = (int64_t)bitrate * 1000;
    /* The sample format: float where the codec takes it, else what it lists
     * first (FLAC: 16 bit, or 32 for a source that asks for 24). */
    const enum AVSampleFormat *fmts = NULL;
#if LIBAVCODEC_VERSION_MAJOR >= 61
    if (avcodec_get_supported_config(c, codec, AV_CODEC_CONFIG_SAMPLE_FORMAT, 0,
                                     (const void **)&fmts, NULL) < 0)
        fmts = NULL;
#else
    fmts = codec->sample_fmts;
#endif
    c->sample_fmt = fmts ? fmts[0] : AV_SAMPLE_FMT_S16;
    for (int i = 0; fmts && fmts[i] != AV_SAMPLE_FMT_NONE; i++) {
        if (fmts[i] == AV_SAMPLE_FMT_FLT || fmts[i] == AV_SAMPLE_FMT_FLTP) {
            c->sample_fmt = fmts[i];
            break;
        }
        if (o->format == LG_FORMAT_FLAC && o->bits > 16 && fmts[i] == AV_SAMPLE_FMT_S32) {
            c->sample_fmt = fmts[i];
            c->bits_per_raw_sample = 24;
            break;
        }
    }
    if (o->complexity >= 0)
        c->compression_level = o->complexity;
    if (e->oc->oformat->flags & AVFMT_GLOBALHEADER)
        c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary *opts = NULL;
    if (o->format == LG_FORMAT_MP3)
        av_dict_set(&opts, "reservoir", "1", 0);
    int r = avcodec_open2(c, codec, &opts);
    av_dict_free(&opts);
    if (r < 0)
        return fail(err, err_len, LG_EMEDIA, "the encoder refused the settings");
    e->frame_size = c->frame_size > 0 ? c->frame_size : PCM_FRAME;
    return 0;
}

static int open_swr(struct lg_encoder *e)
{
    AVChannelLayout in;
    av_channel_layout_default(&in, e->channels);
    int r =
        swr_alloc_set_opts2(&e->swr, &e->enc->ch_layout, e->enc->sample_fmt, e->enc->sample_rate,
                            &in, AV_SAMPLE_FMT_FLT, e->enc->sample_rate, 0, NULL);
    av_channel_layout_uninit(&in);
    if (r < 0)
        return LG_EMEDIA;
    return swr_init(e->swr) < 0 ? LG_EMEDIA : 0;
}

int lg_encoder_open(const struct lg_encode_opts *o, lg_encoder_write_fn *write,
                    lg_encoder_seek_fn *seek, void *ctx, struct lg_encoder **out, char *err,
                    size_t err_len)
{
    if (err && err_len)
        *err = '\0';
    const struct format_info *f = info(o->format);
    if (!f || o->channels < 1 || o->channels > 8 || o->rate < 8000 || o->rate > 384000 || !write)
        return fail(err, err_len, LG_EINVAL, "unsupported format, rate or channels");
    if (o->rate != lg_format_rate(o->format, o->rate))
        return fail(err, err_len, LG_EINVAL, "the format does not take this sample rate");
    lg_media_init();
    struct lg_encoder *e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->f = f;
    e->write = write;
    e->seek = seek;
    e->ctx = ctx;
    e->channels = o->channels;
    int r = avformat_alloc_output_context2(&e->oc, NULL, f->muxer, NULL) < 0 ? LG_EMEDIA : 0;
    if (r == 0)
        r = open_codec(e, o, err, err_len);
    if (r == 0)
        r = open_swr(e);
    if (r == 0) {
        e->st = avformat_new_stream(e->oc, NULL);
        unsigned char *buf = av_malloc(AVIO_BUF);
        e->oc->pb =
            buf ? avio_alloc_context(buf, AVIO_BUF, 1, e, NULL, sink_write, seek ? sink_seek : NULL)
                : NULL;
        if (!e->oc->pb)
            av_free(buf);
        e->fifo = av_audio_fifo_alloc(e->enc->sample_fmt, e->enc->ch_layout.nb_channels,
                                      e->frame_size * 2);
        e->frame = av_frame_alloc();
        e->pkt = av_packet_alloc();
        if (!e->st || !e->oc->pb || !e->fifo || !e->frame || !e->pkt)
            r = -ENOMEM;
    }
    if (r == 0) {
        e->oc->pb->seekable = seek ? AVIO_SEEKABLE_NORMAL : 0;
        e->oc->flags |= AVFMT_FLAG_FLUSH_PACKETS;
        e->st->time_base = e->enc->time_base;
        if (avcodec_parameters_from_context(e->st->codecpar, e->enc) < 0)
            r = LG_EMEDIA;
    }
    if (r == 0) {
        AVDictionary *mo = NULL;
        if (o->format == LG_FORMAT_MP3)
            av_dict_set(&mo, "id3v2_version", "0", 0); /* no tags: bytes out at once */
        if (avformat_write_header(e->oc, &mo) < 0)
            r = e->sink_error ? e->sink_error : fail(err, err_len, LG_EMEDIA, "muxer refused");
        av_dict_free(&mo);
        avio_flush(e->oc->pb);
        if (r == 0 && e->sink_error)
            r = e->sink_error;
        e->header_done = r == 0;
    }
    if (r < 0) {
        if (err && err_len && !*err)
            snprintf(err, err_len, "cannot set up the %s encoder", f->name);
        lg_encoder_free(e);
        return r;
    }
    *out = e;
    return 0;
}

int lg_encoder_frame_size(const struct lg_encoder *e)
{
    return e->frame_size;
}

int lg_encoder_delay(const struct lg_encoder *e)
{
    return e->enc->initial_padding;
}

/* Moves every packet the encoder has ready into the muxer. */
static int drain(struct lg_encoder *e)
{
    for (;;) {
        int r = avcodec_receive_packet(e->enc, e->pkt);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
            return 0;
        if (r < 0)
            return LG_EMEDIA;
        av_packet_rescale_ts(e->pkt, e->enc->time_base, e->st->time_base);
        e->pkt->stream_index = e->st->index;
        r = av_write_frame(e->oc, e->pkt);
        av_packet_unref(e->pkt);
        if (r < 0)
            return e->sink_error ? e->sink_error : LG_EMEDIA;
    }
}

/* Sends n samples from the fifo (n <= frame_size; fewer only at the end). */
static int encode_from_fifo(struct lg_encoder *e, int n)
{
    AVFrame *fr = e->frame;
    av_frame_unref(fr);
    fr->nb_samples = n;
    fr->format = e->enc->sample_fmt;
    fr->sample_rate = e->enc->sample_rate;
    if (av_channel_layout_copy(&fr->ch_layout, &e->enc->ch_layout) < 0 ||
        av_frame_get_buffer(fr, 0) < 0)
        return -ENOMEM;
    if (av_audio_fifo_read(e->fifo, (void **)fr->data, n) != n)
        return LG_EMEDIA;
    fr->pts = e->pts;
    e->pts += n;
    int r = avcodec_send_frame(e->enc, fr);
    av_frame_unref(fr);
    if (r < 0)
        return LG_EMEDIA;
    return drain(e);
}

static int convert_in(struct lg_encoder *e, const float *pcm, int n)
{
    if (n > e->conv_cap) {
        if (e->conv)
            av_freep(&e->conv[0]);
        av_freep(&e->conv);
        e->conv_cap = 0;
        if (av_samples_alloc_array_and_samples(&e->conv, NULL, e->enc->ch_layout.nb_channels, n,
                                               e->enc->sample_fmt, 0) < 0)
            return -ENOMEM;
        e->conv_cap = n;
    }
    const uint8_t *in[1] = { (const uint8_t *)pcm };
    int got = swr_convert(e->swr, e->conv, n, pcm ? in : NULL, pcm ? n : 0);
    if (got < 0)
        return LG_EMEDIA;
    if (got > 0 && av_audio_fifo_write(e->fifo, (void **)e->conv, got) != got)
        return -ENOMEM;
    return 0;
}

int lg_encoder_write(struct lg_encoder *e, const float *pcm, size_t n_frames)
{
    if (e->finished)
        return LG_EINVAL;
    while (n_frames > 0) {
        int n = n_frames > 8192 ? 8192 : (int)n_frames;
        int r = convert_in(e, pcm, n);
        if (r < 0)
            return r;
        pcm += (size_t)n * (size_t)e->channels;
        n_frames -= (size_t)n;
        while (av_audio_fifo_size(e->fifo) >= e->frame_size) {
            r = encode_from_fifo(e, e->frame_size);
            if (r < 0)
                return r;
        }
    }
    avio_flush(e->oc->pb);
    return e->sink_error;
}

int lg_encoder_finish(struct lg_encoder *e)
{
    if (e->finished)
        return 0;
    e->finished = true;
    int r = convert_in(e, NULL, 0);
    while (r == 0 && av_audio_fifo_size(e->fifo) > 0) {
        int n = av_audio_fifo_size(e->fifo);
        r = encode_from_fifo(e, n > e->frame_size ? e->frame_size : n);
    }
    if (r == 0 && avcodec_send_frame(e->enc, NULL) < 0)
        r = LG_EMEDIA;
    if (r == 0)
        r = drain(e);
    if (r == 0 && av_write_trailer(e->oc) < 0)
        r = e->sink_error ? e->sink_error : LG_EMEDIA;
    if (r == 0) {
        avio_flush(e->oc->pb);
        r = e->sink_error;
    }
    return r;
}

int64_t lg_encoder_samples(const struct lg_encoder *e)
{
    return e->pts + av_audio_fifo_size(e->fifo);
}
