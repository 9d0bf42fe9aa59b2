fn main() {
    println!("ocbar: under construction");
}
