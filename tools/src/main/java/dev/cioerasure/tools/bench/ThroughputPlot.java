package dev.cioerasure.tools.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;

/** Erasures per second over time, one line per run, with each run's ceiling dashed: a PNG, no plotting library. */
final class ThroughputPlot {
    private static final Color[] COLORS = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0x9467bd)};

    record Series(String label, List<double[]> points, double ceiling) { }

    private ThroughputPlot() { }

    static void write(Path file, String title, List<Series> series) throws IOException {
        System.setProperty("java.awt.headless", "true");
        int w = 960;
        int h = 420;
        int left = 70;
        int right = 20;
        int top = 40;
        int bottom = 50;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        double maxX = 1;
        double maxY = 1;
        for (Series s : series) {
            for (double[] p : s.points()) {
                maxX = Math.max(maxX, p[0]);
                maxY = Math.max(maxY, p[1]);
            }
            if (!Double.isNaN(s.ceiling())) {
                maxY = Math.max(maxY, s.ceiling());
            }
        }
        maxY *= 1.15;
        int pw = w - left - right;
        int ph = h - top - bottom;
        g.setColor(new Color(0xeeeeee));
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        for (int i = 0; i <= 5; i++) {
            int y = top + ph - ph * i / 5;
            g.setColor(new Color(0xe5e5e5));
            g.drawLine(left, y, left + pw, y);
            g.setColor(Color.DARK_GRAY);
            g.drawString(String.format("%.0f", maxY * i / 5), 10, y + 4);
        }
        for (int i = 0; i <= 6; i++) {
            int x = left + pw * i / 6;
            g.drawString(String.format("%.0f s", maxX * i / 6), x - 10, top + ph + 18);
        }
        g.setColor(Color.BLACK);
        g.drawRect(left, top, pw, ph);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
        g.drawString(title, left, 24);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.drawString("erasures/s (completed per second, from the audit table)", left, top + ph + 38);
        for (int si = 0; si < series.size(); si++) {
            Series s = series.get(si);
            Color c = COLORS[si % COLORS.length];
            g.setColor(c);
            g.setStroke(new BasicStroke(2f));
            int px = -1;
            int py = -1;
            for (double[] p : s.points()) {
                int x = left + (int) (pw * p[0] / maxX);
                int y = top + ph - (int) (ph * p[1] / maxY);
                if (px >= 0) {
                    g.drawLine(px, py, x, y);
                }
                px = x;
                py = y;
            }
            if (!Double.isNaN(s.ceiling())) {
                int y = top + ph - (int) (ph * s.ceiling() / maxY);
                g.setStroke(new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f}, 0f));
                g.drawLine(left, y, left + pw, y);
            }
            g.setStroke(new BasicStroke(2f));
            g.drawLine(left + pw - 300, top + 16 + si * 16, left + pw - 280, top + 16 + si * 16);
            g.setColor(Color.BLACK);
            g.drawString(s.label() + (Double.isNaN(s.ceiling()) ? "" : " (ceiling dashed)"), left + pw - 275, top + 20 + si * 16);
        }
        g.dispose();
        ImageIO.write(img, "png", file.toFile());
    }
}
