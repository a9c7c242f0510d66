/// Numbers for people.
public enum Format {
    /// "3", or "2.50" for a fraction.
    public static func count(_ value: Double) -> String {
        var text = ""
        appendCount(value, to: &text)
        return text
    }

    /// "1,240.00"; beyond 10^13 (where a Double no longer holds every cent) the number as Swift
    /// prints it ("1e+20"), not a crash: an event's amount may be any finite number.
    public static func decimal(_ value: Double) -> String {
        var text = ""
        appendDecimal(value, to: &text)
        return text
    }

    /// Appends `count(value)`.
    public static func appendCount(_ value: Double, to text: inout String) {
        if value == value.rounded() && abs(value) < 1e15 {
            text += String(Int64(value))
        } else {
            appendDecimal(value, to: &text)
        }
    }

    /// Appends `decimal(value)`.
    public static func appendDecimal(_ value: Double, to text: inout String) {
        let cents = (abs(value) * 100).rounded()
        guard cents < 1e15 else {
            text += value.description
            return
        }
        let wholeCents = Int64(cents)
        if value < 0 { text += "-" }
        let digits = String(wholeCents / 100)
        var left = digits.utf8.count
        for digit in digits {
            if left != digits.utf8.count, left % 3 == 0 { text += "," }
            text.append(digit)
            left -= 1
        }
        let fraction = wholeCents % 100
        text += fraction < 10 ? ".0" : "."
        text += String(fraction)
    }

    /// "22:00"
    static func clock(_ minute: UInt32) -> String {
        let hours = minute / 60
        let minutes = minute % 60
        return (hours < 10 ? "0" : "") + String(hours) + ":" + (minutes < 10 ? "0" : "") + String(minutes)
    }
}
