#pragma once

#include <QImage>
#include <QScrollArea>
#include <QString>

#include <utility>

class QHBoxLayout;
class QLabel;
#include <vector>

namespace attnviz::ui {

// Heat maps side by side under their title in a scroll area (CKA, spatial
// localisation), or, until there are any, a line saying how to get them.
class MatrixStrip : public QScrollArea {
    Q_OBJECT
public:
    MatrixStrip(const QString& hint, QWidget* parent = nullptr);

    // Each image with its tooltip; `title` says what they are (the plot's title).
    void setMatrices(const QString& title, const std::vector<std::pair<QImage, QString>>& images);
    bool hasMatrices() const { return m_hasMatrices; }
    const QString& title() const { return m_title; }
    // The row of images, as exported.
    QWidget* content() const { return m_content; }

private:
    void clear();

    QWidget* m_content = nullptr;
    QLabel* m_caption = nullptr;   // the hint, then the title
    QHBoxLayout* m_row = nullptr;  // the heat maps
    QString m_title;
    bool m_hasMatrices = false;
};

}  // namespace attnviz::ui
