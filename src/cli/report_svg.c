/* The report's text and pictures: escaping, human units, and the inline SVG
 * plots (a line chart, the run's timeline). Plain SVG, styled by the
 * report's CSS classes: no script, no font, nothing fetched. */
#include <math.h>
#include <string.h>
#include "cli/report.h"

void rep_esc(FILE *f, const char *s)
{
    for (; s && *s; s++)
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default:
            /* control characters are not allowed in XML (SVG) text */
            if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
                fputc('?', f);
            else
                fputc(*s, f);
        }
}

void rep_bytes(char *buf, size_t size, long long bytes)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    if (bytes < 0) {
        snprintf(buf, size, "–");
        return;
    }
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 5)
        v /= 1024, u++;
    if (u == 0)
        snprintf(buf, size, "%lld B", bytes);
    else
        snprintf(buf, size, "%.*f %s", v < 10 ? 2 : v < 100 ? 1 : 0, v, unit[u]);
}

void rep_seconds(char *buf, size_t size, double s)
{
    if (!(s >= 0))
        snprintf(buf, size, "–");
    else if (s < 1e-3)
        snprintf(buf, size, "%.0f µs", s * 1e6);
    else if (s < 1)
        snprintf(buf, size, "%.1f ms", s * 1e3);
    else if (s < 60)
        snprintf(buf, size, "%.2f s", s);
    else
        snprintf(buf, size, "%d min %d s", (int)(s / 60), (int)fmod(s, 60));
}

/* "Nice" tick spacing (1, 2 or 5 times a power of ten) giving about `want`
 * ticks over [lo, hi]. */
static double nice_step(double lo, double hi, int want)
{
    double raw = (hi - lo) / want;
    if (!(raw > 0))
        return 1;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

/* A tick label: short, and 0 printed as 0 rather than 1e-17. */
static void tick_text(char *buf, size_t size, double v, double step)
{
    if (fabs(v) < step * 1e-9)
        v = 0;
    snprintf(buf, size, "%.4g", v);
}

static const char *const palette[] = {"#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2"};

void rep_line_chart(FILE *f, const char *title, const char *xlabel, const char *ylabel, const rep_series *s,
                    size_t ns)
{
    const double W = 560, H = 300, ml = 70, mr = 18, mt = 34, mb = 46;
    const double pw = W - ml - mr, ph = H - mt - mb;
    size_t nmax = 0;
    double lo = INFINITY, hi = -INFINITY, poslo = INFINITY;
    for (size_t k = 0; k < ns; k++) {
        if (s[k].n > nmax)
            nmax = s[k].n;
        for (size_t i = 0; i < s[k].n; i++) {
            double y = s[k].y[i];
            if (!isfinite(y))
                continue;
            lo = fmin(lo, y);
            hi = fmax(hi, y);
            if (y > 0)
                poslo = fmin(poslo, y);
        }
    }
    if (!(lo <= hi))
        lo = 0, hi = 1;
    /* log scale when the values are positive and span more than two decades */
    int logy = lo > 0 && hi / lo > 100;
    double ylo, yhi, step;
    if (logy) {
        ylo = floor(log10(poslo));
        yhi = ceil(log10(hi));
        if (yhi == ylo)
            yhi += 1;
        step = 1;
    } else {
        if (hi == lo)
            lo -= fabs(lo) * 0.1 + 0.5, hi += fabs(hi) * 0.1 + 0.5;
        step = nice_step(lo, hi, 5);
        ylo = floor(lo / step) * step;
        yhi = ceil(hi / step) * step;
    }
    double xhi = nmax > 1 ? (double)nmax : 2;
    double xstep = nice_step(1, xhi, 6);
    if (xstep < 1)
        xstep = 1;
#define PX(x) (ml + ((x) - 1) / (xhi - 1) * pw)
#define PY(v) (mt + ph - (((logy ? log10(v) : (v)) - ylo) / (yhi - ylo)) * ph)
    fprintf(f, "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
               "height=\"%.0f\" role=\"img\">\n", W, H, W, H);
    fputs("<text class=\"ctitle\" x=\"", f);
    fprintf(f, "%.1f\" y=\"20\">", ml);
    rep_esc(f, title);
    fputs("</text>\n", f);
    char t[64];
    /* horizontal grid and y ticks */
    for (double v = ylo; v <= yhi + step * 1e-9; v += step) {
        double yv = logy ? pow(10, v) : v;
        double py = PY(yv);
        fprintf(f, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", ml, ml + pw, py, py);
        if (logy)
            snprintf(t, sizeof t, "1e%d", (int)lround(v));
        else
            tick_text(t, sizeof t, v, step);
        fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", ml - 6, py + 4, t);
    }
    for (double x = 1; x <= xhi + 1e-9; x = x == 1 && xstep > 1 ? xstep : x + xstep) {
        double px = PX(x);
        fprintf(f, "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", px, px, mt + ph,
                mt + ph + 4);
        fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>\n", px,
                mt + ph + 17, x);
    }
    fprintf(f, "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", ml, ml + pw, mt + ph, mt + ph);
    fprintf(f, "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>\n", ml, ml, mt, mt + ph);
    fprintf(f, "<text class=\"alabel\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", ml + pw / 2, H - 8);
    rep_esc(f, xlabel);
    fprintf(f, "</text>\n<text class=\"alabel\" transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\">",
            mt + ph / 2);
    rep_esc(f, ylabel);
    fputs(logy ? " (log scale)</text>\n" : "</text>\n", f);
    for (size_t k = 0; k < ns; k++) {
        size_t pts = 0;
        for (size_t i = 0; i < s[k].n; i++)
            pts += isfinite(s[k].y[i]) && (!logy || s[k].y[i] > 0);
        fprintf(f, "<polyline class=\"series\" data-series=\"");
        rep_esc(f, s[k].name);
        fprintf(f, "\" data-points=\"%zu\" stroke=\"%s\" points=\"", pts, palette[k % 6]);
        for (size_t i = 0; i < s[k].n; i++)
            if (isfinite(s[k].y[i]) && (!logy || s[k].y[i] > 0))
                fprintf(f, "%s%.2f,%.2f", i ? " " : "", s[k].n > 1 ? PX((double)(i + 1)) : ml + pw / 2,
                        PY(s[k].y[i]));
        fputs("\"/>\n", f);
        /* legend, top right */
        double ly = mt + 8 + 16 * (double)k;
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2.5\"/>",
                ml + pw - 150, ml + pw - 132, ly, ly, palette[k % 6]);
        fprintf(f, "<text class=\"legend\" x=\"%.1f\" y=\"%.1f\">", ml + pw - 126, ly + 4);
        rep_esc(f, s[k].name);
        fputs("</text>\n", f);
    }
#undef PX
#undef PY
    fputs("</svg>\n", f);
}

void rep_timeline(FILE *f, const rep_bar *b, size_t n)
{
    const double lw = 150, W = 1000, row = 24, mt = 8, mb = 40, mr = 16;
    const double pw = W - lw - mr, H = mt + row * (double)n + mb;
    double span = 0;
    for (size_t i = 0; i < n; i++)
        span = fmax(span, b[i].end);
    if (!(span > 0))
        span = 1e-3;
    /* a run under a second reads better in milliseconds */
    double unit = span < 1 ? 1e3 : 1;
    double step = nice_step(0, span * unit, 8) / unit;
    double hi = ceil(span / step) * step;
#define TX(t) (lw + (t) / hi * pw)
    fprintf(f, "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
               "height=\"%.0f\" role=\"img\">\n", W, H, W, H);
    for (double t = 0; t <= hi + step * 1e-9; t += step) {
        char lab[64], tk[64];
        tick_text(tk, sizeof tk, t * unit, step * unit);
        snprintf(lab, sizeof lab, "%s", tk);
        fprintf(f, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", TX(t), TX(t), mt,
                mt + row * (double)n);
        fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", TX(t),
                mt + row * (double)n + 16, lab);
    }
    fprintf(f, "<text class=\"alabel\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s since the run started</text>\n",
            lw + pw / 2, H - 6, unit > 1 ? "milliseconds" : "seconds");
    for (size_t i = 0; i < n; i++) {
        double y = mt + row * (double)i;
        fprintf(f, "<g class=\"bar\" data-stage=\"");
        rep_esc(f, b[i].label);
        fprintf(f, "\"><text class=\"blabel\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", lw - 8, y + row / 2 + 4);
        rep_esc(f, b[i].label);
        fputs("</text>", f);
        double x0 = TX(b[i].start), x1 = TX(b[i].ready >= 0 ? b[i].ready : b[i].end), x2 = TX(b[i].end);
        /* a stage that took no visible time is still a visible mark */
        double w1 = fmax(x1 - x0, 2.0);
        char a[64], c[64], d[64];
        rep_seconds(a, sizeof a, b[i].start);
        rep_seconds(c, sizeof c, b[i].end - b[i].start);
        rep_seconds(d, sizeof d, b[i].ready >= 0 ? b[i].end - b[i].ready : 0);
        fprintf(f, "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"2\"><title>", b[i].kind,
                x0, y + 4, w1, row - 8);
        rep_esc(f, b[i].label);
        fprintf(f, ": %s, from %s; %s writing to disk</title></rect>", c, a, d);
        if (b[i].ready >= 0 && x2 - x1 > 0.5)
            fprintf(f, "<rect class=\"disk\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"2\"/>", x1,
                    y + 4, x2 - x1, row - 8);
        fputs("</g>\n", f);
    }
#undef TX
    fputs("</svg>\n", f);
}
